"""Repository rows: created on first push, listed by the catalog."""

from __future__ import annotations

import time

from sqlalchemy import Connection, bindparam, insert, select

from .schema import repositories

# Built once: building a statement costs more than SQLite running it.
_FIND = select(repositories.c.id).where(repositories.c.name == bindparam("name"))
_INSERT = insert(repositories)
_NAMES = (
    select(repositories.c.name)
    .where(repositories.c.name > bindparam("after"))
    .order_by(repositories.c.name)
    .limit(bindparam("limit"))
)


def find(conn: Connection, name: str) -> int | None:
    return conn.execute(_FIND, {"name": name}).scalar()


def ensure(conn: Connection, name: str) -> int:
    """The repository's id, creating it on first use (inside the caller's write transaction)."""
    found = find(conn, name)
    if found is not None:
        return found
    result = conn.execute(_INSERT, {"name": name, "created_at": time.time()})
    return int(result.inserted_primary_key[0])  # type: ignore[index]


def names(conn: Connection, after: str, limit: int) -> list[str]:
    return list(conn.execute(_NAMES, {"after": after, "limit": limit}).scalars())
