"""Repository rows: created on first push, listed by the catalog."""

from __future__ import annotations

import time

from sqlalchemy import Connection, select

from .schema import repositories
from .upsert import insert_ignore


def find(conn: Connection, name: str, lock: bool = False) -> int | None:
    """The repository's id. lock=True holds its row until the transaction ends: the writers of
    a repository's manifests and tags queue on it, whatever process or machine they run in."""
    query = select(repositories.c.id).where(repositories.c.name == name)
    return conn.execute(query.with_for_update() if lock else query).scalar()


def ensure(conn: Connection, name: str, lock: bool = False) -> int:
    """The repository's id, creating it on first use (inside the caller's write transaction).
    Two transactions creating the same repository at once both get its one row."""
    found = find(conn, name, lock)
    if found is not None:
        return found
    conn.execute(insert_ignore(conn, repositories, {"name": name, "created_at": time.time()}))
    created = find(conn, name, lock)
    assert created is not None
    return created


def names(conn: Connection, after: str, limit: int) -> list[str]:
    query = select(repositories.c.name).where(repositories.c.name > after)
    return list(conn.execute(query.order_by(repositories.c.name).limit(limit)).scalars())
