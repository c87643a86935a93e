"""The scan gate of a deploy rule, a pure function: the image's scan (its status and findings,
in ECR's shape) and the rule's limits in, a decision out.

A finding blocks when its severity is above the rule's `maxSeverity` (CRITICAL > HIGH > MEDIUM >
LOW > INFORMATIONAL > UNDEFINED: `HIGH` lets HIGH through and blocks CRITICAL) and neither its
id nor its name is in the rule's `ignore` list. A scan that failed, or an image the scanner
cannot read, blocks too: a rule that requires a scan deploys only what was scanned.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from storage.metadata.scans import COMPLETE

from ..scan.severity import SEVERITIES

DEFAULT_MAX = "HIGH"


@dataclass(frozen=True)
class Decision:
    passed: bool
    reason: str
    counts: dict[str, int] = field(default_factory=dict)
    blocking: list[dict[str, Any]] = field(default_factory=list)  # id, name, severity, package, version

    def record(self) -> dict[str, Any]:
        return {"passed": self.passed, "reason": self.reason, "counts": self.counts, "blocking": self.blocking}


def _rank(severity: str) -> int:
    return SEVERITIES.index(severity) if severity in SEVERITIES else len(SEVERITIES) - 1


def _summary(counts: dict[str, int]) -> str:
    found = [f"{counts[s]} {s}" for s in SEVERITIES if counts.get(s)]
    return ", ".join(found) or "no findings"


def judge(
    status: str,
    description: str | None,
    counts: dict[str, int],
    findings: Iterable[dict[str, Any]],
    max_severity: str,
    ignore: Iterable[str],
) -> Decision:
    if status != COMPLETE:
        return Decision(False, f"scan {status}: {description or 'no description'}", counts)
    ignored = set(ignore)
    limit = _rank(max_severity)
    blocking = [
        {key: finding.get(key) for key in ("id", "name", "severity", "package", "version")}
        for finding in findings
        if _rank(str(finding.get("severity"))) < limit
        and finding.get("id") not in ignored
        and finding.get("name") not in ignored
    ]
    if blocking:
        first = blocking[0]
        more = f" and {len(blocking) - 1} more" if len(blocking) > 1 else ""
        reason = (
            f"{first['severity']} {first['name'] or first['id']} in {first['package']} {first['version']}{more} "
            f"above the gate's {max_severity} ({_summary(counts)})"
        )
        return Decision(False, reason, counts, blocking)
    return Decision(True, f"passed: nothing above {max_severity} ({_summary(counts)})", counts)
