"""Failed logins counted per key in fixed windows, and the address-account pairs that logged in
lately; in the database so that every worker process (and every replica sharing the database)
counts the same failures."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, delete, select, update

from .schema import auth_failures, auth_known_logins
from .upsert import insert_ignore, upsert


def counts(conn: Connection, keys: Sequence[str], window: float, now: float) -> dict[str, tuple[int, float]]:
    """(failures, seconds until the window ends) of each key whose window is still open."""
    query = select(auth_failures).where(auth_failures.c.client.in_(keys))
    return {
        row.client: (row.failures, row.window_start + window - now)
        for row in conn.execute(query)
        if now < row.window_start + window
    }


def record(conn: Connection, keys: Sequence[str], window: float, now: float) -> None:
    conn.execute(delete(auth_failures).where(auth_failures.c.window_start < now - window))
    insert_ignore(conn, auth_failures, [{"client": key, "window_start": now, "failures": 0} for key in keys])
    where = auth_failures.c.client.in_(keys)
    conn.execute(update(auth_failures).where(where).values(failures=auth_failures.c.failures + 1))


def known(conn: Connection, pair: str, since: float) -> bool:
    query = select(auth_known_logins.c.at).where(auth_known_logins.c.pair == pair)
    return (conn.execute(query).scalar() or 0.0) >= since


def remember(conn: Connection, pair: str, now: float, forget_before: float) -> None:
    conn.execute(delete(auth_known_logins).where(auth_known_logins.c.at < forget_before))
    upsert(conn, auth_known_logins, {"pair": pair, "at": now})
