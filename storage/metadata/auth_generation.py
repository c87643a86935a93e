"""A counter bumped by every change to who may do what. Each worker compares it with the value
its caches were filled at: one cheap read instead of a cache lifetime."""

from __future__ import annotations

from sqlalchemy import Connection, select, update

from .schema import auth_generation
from .upsert import insert_ignore


def current(conn: Connection) -> int:
    return int(conn.execute(select(auth_generation.c.generation).where(auth_generation.c.id == 1)).scalar() or 0)


def bump(conn: Connection) -> None:
    insert_ignore(conn, auth_generation, {"id": 1, "generation": 0})
    where = auth_generation.c.id == 1
    conn.execute(update(auth_generation).where(where).values(generation=auth_generation.c.generation + 1))
