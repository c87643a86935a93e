"""Named leases in the database, so that one process at a time (of every worker and replica)
runs a scheduled job. A holder that dies loses its lease when it runs out."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import Connection, delete, or_, select, update

from .engine import Database
from .schema import locks
from .upsert import insert_ignore

T = TypeVar("T")


def acquire(conn: Connection, name: str, holder: str, seconds: float) -> bool:
    now = time.time()
    insert_ignore(conn, locks, {"name": name, "holder": holder, "expires": now + seconds})
    free = or_(locks.c.holder == holder, locks.c.expires < now)
    conn.execute(update(locks).where(locks.c.name == name, free).values(holder=holder, expires=now + seconds))
    return conn.execute(select(locks.c.holder).where(locks.c.name == name)).scalar() == holder


def release(conn: Connection, name: str, holder: str) -> None:
    conn.execute(delete(locks).where(locks.c.name == name, locks.c.holder == holder))


def run_exclusively(db: Database, name: str, seconds: float, job: Callable[[], T]) -> T | None:
    """Run `job` unless another process holds the lease `name`; None when it does. Jobs run
    this way are safe to overlap (a lease that runs out early only costs duplicate work)."""
    holder = uuid.uuid4().hex
    with db.write() as conn:
        if not acquire(conn, name, holder, seconds):
            return None
    try:
        return job()
    finally:
        with db.write() as conn:
            release(conn, name, holder)
