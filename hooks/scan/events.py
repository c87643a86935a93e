"""The events a scan announces, written to the outbox in the transaction that records its
outcome: completed (with the counts by severity), failed (or unsupported), and, when an image is
scanned again (a new advisory database), one for every finding the previous scan did not have."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from storage.metadata import events, images, scans

COMPLETED, FAILED, FINDING = "image.scan_completed", "image.scan_failed", "image.scan_finding"


def _identity(finding: dict[str, Any]) -> tuple[str, str, str, str]:
    return (finding["id"], finding["package"], finding["version"], finding["path"])


def observed(previous: list[dict[str, Any]] | None, current: list[dict[str, Any]], now: float) -> None:
    """Stamp each finding with when a scan of the image first found it."""
    first = {_identity(f): f.get("firstObservedAt") for f in previous or []}
    for finding in current:
        finding["firstObservedAt"] = first.get(_identity(finding)) or now


def new_findings(previous: list[dict[str, Any]] | None, current: list[dict[str, Any]]) -> list[dict[str, Any]]:
    known = {_identity(f) for f in previous or []}
    return [f for f in current if _identity(f) not in known]


def announce(
    conn: Connection,
    row: scans.ScanRow,
    status: str,
    description: str,
    counts: dict[str, int] | None,
    findings: list[dict[str, Any]] | None,
) -> None:
    """`row` is the scan as it was before this outcome (its findings are the previous ones)."""
    tags = images.tags_of(conn, row.repository_id, [row.digest]).get(row.digest, [])
    base = {"digest": row.digest, "tags": tags, "status": status, "reason": row.reason}
    if status != scans.COMPLETE:
        events.enqueue(conn, FAILED, row.repository, base | {"description": description})
        return
    events.enqueue(conn, COMPLETED, row.repository, base | {"severityCounts": counts or {}})
    if row.findings is None:
        return  # a first scan: its findings are in the counts, none is news
    for finding in new_findings(row.findings, findings or []):
        details = {key: finding[key] for key in ("name", "id", "severity", "package", "version", "fixedIn", "uri")}
        events.enqueue(conn, FINDING, row.repository, {"digest": row.digest, "tags": tags, "finding": details})
