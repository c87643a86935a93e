"""The lifecycle audit trail: one row per image a lifecycle policy removed."""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import Connection, insert, select

from .schema import lifecycle_audit


@dataclass(frozen=True, slots=True)
class AuditRow:
    run_id: str
    repository: str
    digest: str
    tags: list[str]
    rule_priority: int | None
    reason: str
    at: float


def record(conn: Connection, entry: AuditRow) -> None:
    values = {
        "run_id": entry.run_id,
        "repository": entry.repository,
        "digest": entry.digest,
        "tags": json.dumps(entry.tags),
        "rule_priority": entry.rule_priority,
        "reason": entry.reason,
        "at": entry.at,
    }
    conn.execute(insert(lifecycle_audit).values(**values))


def recent(conn: Connection, repository: str, limit: int = 100) -> list[AuditRow]:
    query = select(lifecycle_audit).where(lifecycle_audit.c.repository == repository)
    rows = conn.execute(query.order_by(lifecycle_audit.c.id.desc()).limit(limit))
    return [
        AuditRow(r.run_id, r.repository, r.digest, json.loads(r.tags), r.rule_priority, r.reason, r.at) for r in rows
    ]
