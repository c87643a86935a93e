"""Task definitions: a family's revisions, numbered from 1, each a JSON document."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update

from .schema import ecs_task_definitions as defs


@dataclass(frozen=True, slots=True)
class TaskDefinitionRow:
    id: int
    family: str
    revision: int
    status: str
    registered_at: float
    deregistered_at: float | None
    doc: dict[str, Any]


def _row(row: Any) -> TaskDefinitionRow:
    return TaskDefinitionRow(
        row.id, row.family, row.revision, row.status, row.registered_at, row.deregistered_at, json.loads(row.doc)
    )


def register(conn: Connection, family: str, doc: dict[str, Any]) -> TaskDefinitionRow:
    """The family's next revision (numbers are never reused, even after a deletion)."""
    last = conn.execute(select(func.max(defs.c.revision)).where(defs.c.family == family)).scalar() or 0
    values = {"family": family, "revision": last + 1, "status": "ACTIVE", "registered_at": time.time()}
    new_id = conn.execute(insert(defs).values(**values, doc=json.dumps(doc))).inserted_primary_key[0]  # type: ignore[index]
    return by_id(conn, int(new_id))


def by_id(conn: Connection, definition_id: int) -> TaskDefinitionRow:
    return _row(conn.execute(select(defs).where(defs.c.id == definition_id)).one())


def find(conn: Connection, family: str, revision: int | None) -> TaskDefinitionRow | None:
    """A revision, or (revision None) the family's latest ACTIVE one."""
    query = select(defs).where(defs.c.family == family)
    if revision is None:
        query = query.where(defs.c.status == "ACTIVE").order_by(defs.c.revision.desc()).limit(1)
    else:
        query = query.where(defs.c.revision == revision)
    row = conn.execute(query).first()
    return _row(row) if row is not None else None


def listing(
    conn: Connection, family: str | None, status: str | None, descending: bool, after: int, limit: int
) -> list[TaskDefinitionRow]:
    """Revisions in (family, revision) order; `after` is the id-free position of the previous page."""
    query = select(defs)
    if family is not None:
        query = query.where(defs.c.family == family)
    if status is not None:
        query = query.where(defs.c.status == status)
    order = (defs.c.family.desc(), defs.c.revision.desc()) if descending else (defs.c.family, defs.c.revision)
    return [_row(row) for row in conn.execute(query.order_by(*order).offset(after).limit(limit))]


def families(conn: Connection, prefix: str | None, status: str | None, after: str, limit: int) -> list[str]:
    query = select(defs.c.family).distinct().where(defs.c.family > after)
    if prefix:
        query = query.where(defs.c.family.startswith(prefix, autoescape=True))
    if status == "ACTIVE":
        query = query.where(defs.c.status == "ACTIVE")
    elif status == "INACTIVE":  # families without any ACTIVE revision
        active = select(defs.c.family).where(defs.c.status == "ACTIVE")
        query = query.where(defs.c.family.not_in(active))
    return list(conn.execute(query.order_by(defs.c.family).limit(limit)).scalars())


def set_status(conn: Connection, definition_id: int, status: str) -> None:
    values: dict[str, Any] = {"status": status}
    if status != "ACTIVE":
        values["deregistered_at"] = time.time()
    conn.execute(update(defs).where(defs.c.id == definition_id).values(**values))


def remove(conn: Connection, definition_id: int) -> None:
    conn.execute(delete(defs).where(defs.c.id == definition_id))
