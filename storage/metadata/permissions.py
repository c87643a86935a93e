"""Permission rows: a subject (user, robot, group or anonymous) may do some actions on the
repositories that match a pattern."""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Connection, delete, insert, or_, select, update

from .schema import permissions


@dataclass(frozen=True, slots=True)
class PermissionRow:
    subject_kind: str
    subject_name: str
    pattern: str
    actions: frozenset[str]


def _encode(actions: frozenset[str]) -> str:
    return ",".join(sorted(actions))


def _where(kind: str, name: str, pattern: str) -> ColumnElement[bool]:
    return (
        (permissions.c.subject_kind == kind) & (permissions.c.subject_name == name) & (permissions.c.pattern == pattern)
    )


def current(conn: Connection, kind: str, name: str, pattern: str) -> frozenset[str] | None:
    found = conn.execute(select(permissions.c.actions).where(_where(kind, name, pattern))).scalar()
    return frozenset(found.split(",")) if found is not None else None


def put(conn: Connection, kind: str, name: str, pattern: str, actions: frozenset[str]) -> None:
    """Set the actions of one rule (creating it, or deleting it when `actions` is empty)."""
    where = _where(kind, name, pattern)
    if not actions:
        conn.execute(delete(permissions).where(where))
    elif current(conn, kind, name, pattern) is None:
        values = {"subject_kind": kind, "subject_name": name, "pattern": pattern, "created_at": time.time()}
        conn.execute(insert(permissions).values(actions=_encode(actions), **values))
    else:
        conn.execute(update(permissions).where(where).values(actions=_encode(actions)))


def remove_subject(conn: Connection, kind: str, name: str) -> None:
    conn.execute(delete(permissions).where(permissions.c.subject_kind == kind, permissions.c.subject_name == name))


def for_subjects(conn: Connection, subjects: list[tuple[str, str]]) -> list[PermissionRow]:
    """The rules of any of these (kind, name) subjects."""
    if not subjects:
        return []
    match = or_(*((permissions.c.subject_kind == k) & (permissions.c.subject_name == n) for k, n in subjects))
    return _rows(conn, match)


def listing(conn: Connection) -> list[PermissionRow]:
    return _rows(conn, None)


def _rows(conn: Connection, where: ColumnElement[bool] | None) -> list[PermissionRow]:
    query = select(permissions.c.subject_kind, permissions.c.subject_name, permissions.c.pattern, permissions.c.actions)
    if where is not None:
        query = query.where(where)
    query = query.order_by(permissions.c.subject_kind, permissions.c.subject_name, permissions.c.pattern)
    return [PermissionRow(k, n, p, frozenset(a.split(","))) for k, n, p, a in conn.execute(query)]
