"""Failed logins per client address in fixed windows, in the database so that every worker
process (and every replica sharing the database) counts the same failures."""

from __future__ import annotations

from sqlalchemy import Connection, delete, select, update

from .schema import auth_failures
from .upsert import insert_ignore


def blocked_for(conn: Connection, client: str, limit: int, window: float, now: float) -> float | None:
    """Seconds until `client` may try again, or None if it may try now."""
    record = conn.execute(select(auth_failures).where(auth_failures.c.client == client)).first()
    if record is None or record.failures < limit or now >= record.window_start + window:
        return None
    return float(record.window_start + window - now)


def record(conn: Connection, client: str, window: float, now: float) -> None:
    conn.execute(delete(auth_failures).where(auth_failures.c.window_start < now - window))
    insert_ignore(conn, auth_failures, {"client": client, "window_start": now, "failures": 0})
    where = auth_failures.c.client == client
    conn.execute(update(auth_failures).where(where).values(failures=auth_failures.c.failures + 1))
