"""OAuth2 refresh tokens: stored as SHA-256 digests, bound to one principal and one service."""

from __future__ import annotations

import time

from sqlalchemy import Connection, delete, insert, select

from .principals import PrincipalRow, row
from .schema import principals, refresh_tokens


def create(conn: Connection, token_hash: str, principal_id: int, service: str, expires_at: float) -> None:
    values = {"token_hash": token_hash, "principal_id": principal_id, "service": service, "expires_at": expires_at}
    conn.execute(insert(refresh_tokens).values(created_at=time.time(), **values))


def find(conn: Connection, token_hash: str) -> tuple[PrincipalRow, str, float] | None:
    """(owner, service, expiry) of the token."""
    query = (
        select(refresh_tokens.c.service, refresh_tokens.c.expires_at.label("token_expires_at"), principals)
        .join(principals, principals.c.id == refresh_tokens.c.principal_id)
        .where(refresh_tokens.c.token_hash == token_hash)
    )
    record = conn.execute(query).first()
    return (row(record), record.service, record.token_expires_at) if record else None


def remove_for(conn: Connection, principal_id: int) -> None:
    conn.execute(delete(refresh_tokens).where(refresh_tokens.c.principal_id == principal_id))


def remove_expired(conn: Connection, now: float) -> None:
    conn.execute(delete(refresh_tokens).where(refresh_tokens.c.expires_at < now))
