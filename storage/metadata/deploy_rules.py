"""Deploy rules: which pushes (repository and tag patterns) deploy to which service, and the
gates on the way (hooks/deploy/ works them)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, delete, select, update

from .schema import deploy_rules
from .upsert import insert_ignore


@dataclass(frozen=True, slots=True)
class RuleRow:
    id: int
    name: str
    repository: str  # pattern
    tag: str  # pattern
    cluster: str
    service: str
    doc: dict[str, Any]  # container, requireScan, maxSeverity, ignore, approval, revertTag
    enabled: bool
    disabled_reason: str | None
    created_at: float
    updated_at: float


def _row(record: Any) -> RuleRow:
    return RuleRow(**{**record._mapping, "doc": json.loads(record.doc), "enabled": bool(record.enabled)})


def create(conn: Connection, values: dict[str, Any]) -> bool:
    """False when the name is taken."""
    now = time.time()
    row = {**values, "doc": json.dumps(values["doc"]), "enabled": True, "created_at": now, "updated_at": now}
    return insert_ignore(conn, deploy_rules, row).rowcount == 1


def get(conn: Connection, name: str, lock: bool = False) -> RuleRow | None:
    query = select(deploy_rules).where(deploy_rules.c.name == name)
    record = conn.execute(query.with_for_update() if lock else query).first()
    return _row(record) if record is not None else None


def listing(conn: Connection, enabled_only: bool = False) -> list[RuleRow]:
    query = select(deploy_rules).order_by(deploy_rules.c.name)
    if enabled_only:
        query = query.where(deploy_rules.c.enabled.is_(True))
    return [_row(record) for record in conn.execute(query)]


def change(conn: Connection, rule_id: int, values: dict[str, Any]) -> None:
    values = {**values, "updated_at": time.time()}
    if "doc" in values:
        values["doc"] = json.dumps(values["doc"])
    conn.execute(update(deploy_rules).where(deploy_rules.c.id == rule_id).values(**values))


def remove(conn: Connection, rule_id: int) -> None:
    conn.execute(delete(deploy_rules).where(deploy_rules.c.id == rule_id))
