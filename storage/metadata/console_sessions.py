"""Web console logins: a session row per login, found by the SHA-256 of its cookie token."""

from __future__ import annotations

import time

from sqlalchemy import Connection, delete, insert, or_, select

from .principals import PrincipalRow, row
from .schema import console_sessions, principals


def create(conn: Connection, token_hash: str, principal_id: int, expires_at: float) -> None:
    values = {"token_hash": token_hash, "principal_id": principal_id, "expires_at": expires_at}
    conn.execute(insert(console_sessions).values(created_at=time.time(), **values))


def owner(conn: Connection, token_hash: str, now: float) -> PrincipalRow | None:
    """The account of an unexpired session, while the account itself is active."""
    query = (
        select(principals)
        .join(console_sessions, console_sessions.c.principal_id == principals.c.id)
        .where(
            console_sessions.c.token_hash == token_hash,
            console_sessions.c.expires_at > now,
            principals.c.revoked_at.is_(None),
            or_(principals.c.expires_at.is_(None), principals.c.expires_at > now),
        )
    )
    record = conn.execute(query).first()
    return row(record) if record else None


def remove(conn: Connection, token_hash: str) -> None:
    conn.execute(delete(console_sessions).where(console_sessions.c.token_hash == token_hash))


def remove_for(conn: Connection, principal_id: int) -> None:
    conn.execute(delete(console_sessions).where(console_sessions.c.principal_id == principal_id))


def remove_expired(conn: Connection, now: float) -> None:
    conn.execute(delete(console_sessions).where(console_sessions.c.expires_at <= now))
