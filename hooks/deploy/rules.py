"""Managing deploy rules: what `cais deploy rule ...` and /api/v1/deploy-rules do.

A rule maps pushes to a service: a push of a repository matching `repository` (`team/*`) with a
tag matching `tag` (`main`, `v*`) deploys the pushed digest to `cluster`/`service`, replacing
the image of `container` (by default the container that runs that repository, or the only one).
On the way, the rule may require the image's scan and stop what has findings above
`maxSeverity` (gate.py), and wait for a person's approval; after a rollback it may move the tag
back to what runs (`revertTag`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from typing import Any

from storage.errors import DeployRuleExists, DeployRuleInvalid, DeployRuleUnknown
from storage.metadata import deploy_rules, ecs_clusters, ecs_services
from storage.metadata.deploy_rules import RuleRow
from storage.metadata.engine import Database

from ..scan.severity import SEVERITIES
from .gate import DEFAULT_MAX

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
REPOSITORY_RE = re.compile(r"^[a-z0-9*][a-z0-9._/*-]{0,254}$")
TAG_RE = re.compile(r"^[A-Za-z0-9_*][A-Za-z0-9._*-]{0,127}$")
CONTAINER_RE = re.compile(r"^[A-Za-z0-9_-]{1,255}$")
FINDING_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
APPROVALS = ("auto", "manual")


@dataclass(frozen=True)
class Spec:
    """A rule as an operator describes it."""

    repository: str
    tag: str
    cluster: str
    service: str
    container: str | None = None
    require_scan: bool = False
    max_severity: str | None = None  # implies require_scan; default HIGH (CRITICAL findings block)
    ignore: list[str] = field(default_factory=list)  # finding ids or names (CVE-..., GHSA-...)
    approval: str = "auto"  # manual: a person approves each deploy
    revert_tag: bool = False  # after a rollback, move the tag back to the digest that runs

    def doc(self) -> dict[str, Any]:
        scan = self.require_scan or self.max_severity is not None
        return {
            "container": self.container,
            "requireScan": scan,
            "maxSeverity": (self.max_severity or DEFAULT_MAX) if scan else None,
            "ignore": list(self.ignore),
            "approval": self.approval,
            "revertTag": self.revert_tag,
        }


def spec_of(row: RuleRow) -> Spec:
    doc = row.doc
    return Spec(
        repository=row.repository,
        tag=row.tag,
        cluster=row.cluster,
        service=row.service,
        container=doc.get("container"),
        require_scan=bool(doc.get("requireScan")),
        max_severity=doc.get("maxSeverity"),
        ignore=list(doc.get("ignore") or []),
        approval=doc.get("approval") or "auto",
        revert_tag=bool(doc.get("revertTag")),
    )


def spec(values: dict[str, Any], base: Spec | None = None) -> Spec:
    """A Spec from field values (over `base`), DeployRuleInvalid naming what is wrong."""
    known = {f.name for f in fields(Spec)}
    unknown = set(values) - known
    if unknown:
        raise DeployRuleInvalid(f"unknown field(s): {', '.join(sorted(unknown))}")
    merged = {**(base.__dict__ if base else {}), **values}
    missing = [name for name in ("repository", "tag", "cluster", "service") if not merged.get(name)]
    if missing:
        raise DeployRuleInvalid(f"a deploy rule needs {', '.join(missing)}")
    found = Spec(**merged)
    _check(found)
    return found


def _check(found: Spec) -> None:
    problems = []
    if not REPOSITORY_RE.match(found.repository) or "//" in found.repository:
        problems.append(f"repository pattern {found.repository[:100]!r}: lowercase name characters and *")
    if not TAG_RE.match(found.tag):
        problems.append(f"tag pattern {found.tag[:100]!r}: tag characters and *")
    if found.container is not None and not CONTAINER_RE.match(found.container):
        problems.append(f"container name {found.container[:100]!r}")
    if found.max_severity is not None and found.max_severity not in SEVERITIES:
        problems.append(f"max severity {found.max_severity[:20]!r}: one of {', '.join(SEVERITIES)}")
    problems += [f"finding id {item[:100]!r}" for item in found.ignore if not FINDING_RE.match(item)]
    if found.approval not in APPROVALS:
        problems.append(f"approval {found.approval[:20]!r}: auto or manual")
    if problems:
        raise DeployRuleInvalid("invalid deploy rule: " + "; ".join(problems))


def describe(row: RuleRow) -> dict[str, Any]:
    """A rule as the command line and the API show it."""
    return {
        "name": row.name,
        "repository": row.repository,
        "tag": row.tag,
        "cluster": row.cluster,
        "service": row.service,
        **row.doc,
        "enabled": row.enabled,
        "disabledReason": row.disabled_reason,
        "createdAt": row.created_at,
        "updatedAt": row.updated_at,
    }


class DeployRules:
    def __init__(self, db: Database) -> None:
        self.db = db

    def listing(self) -> list[RuleRow]:
        with self.db.read() as conn:
            return deploy_rules.listing(conn)

    def get(self, name: str) -> RuleRow:
        with self.db.read() as conn:
            return _rule(deploy_rules.get(conn, name), name)

    def add(self, name: str, found: Spec) -> RuleRow:
        if not NAME_RE.match(name):
            raise DeployRuleInvalid(f"invalid rule name {name[:100]!r}: letters, digits, '.', '_' and '-'")
        with self.db.write() as conn:
            _check_service(conn, found)
            values = {**_columns(found), "name": name}
            if not deploy_rules.create(conn, values):
                raise DeployRuleExists(f"a deploy rule named {name} exists", {"name": name})
            return _rule(deploy_rules.get(conn, name), name)

    def update(self, name: str, changes: dict[str, Any]) -> RuleRow:
        with self.db.write() as conn:
            current = _rule(deploy_rules.get(conn, name, lock=True), name)
            found = spec(changes, spec_of(current))
            _check_service(conn, found)
            deploy_rules.change(conn, current.id, _columns(found))
            return _rule(deploy_rules.get(conn, name), name)

    def set_enabled(self, name: str, enabled: bool, reason: str | None = None) -> RuleRow:
        with self.db.write() as conn:
            current = _rule(deploy_rules.get(conn, name, lock=True), name)
            why = None if enabled else reason or "disabled by an operator"
            deploy_rules.change(conn, current.id, {"enabled": enabled, "disabled_reason": why})
            return _rule(deploy_rules.get(conn, name), name)

    def remove(self, name: str) -> RuleRow:
        with self.db.write() as conn:
            current = _rule(deploy_rules.get(conn, name, lock=True), name)
            deploy_rules.remove(conn, current.id)
            return current


def _rule(found: RuleRow | None, name: str) -> RuleRow:
    if found is None:
        raise DeployRuleUnknown(f"no deploy rule named {name}", {"name": name})
    return found


def _columns(found: Spec) -> dict[str, Any]:
    return {
        "repository": found.repository,
        "tag": found.tag,
        "cluster": found.cluster,
        "service": found.service,
        "doc": found.doc(),
    }


def _check_service(conn: Any, found: Spec) -> None:
    """The service must exist: a rule that names a typo would wait silently for ever."""
    cluster = ecs_clusters.find(conn, found.cluster)
    service = ecs_services.find(conn, cluster.id, found.service) if cluster is not None else None
    if cluster is None or cluster.status != "ACTIVE" or service is None or service.status != "ACTIVE":
        raise DeployRuleInvalid(f"no active service {found.service} in cluster {found.cluster}")
