"""AWS-style access keys of robot accounts (the secret is stored encrypted, never in clear)."""

from __future__ import annotations

import time

from sqlalchemy import Connection, insert, select

from .principals import PrincipalRow, row
from .schema import access_keys, principals


def create(conn: Connection, access_key_id: str, principal_id: int, secret_encrypted: bytes) -> None:
    values = {"access_key_id": access_key_id, "principal_id": principal_id, "secret_encrypted": secret_encrypted}
    conn.execute(insert(access_keys).values(created_at=time.time(), **values))


def find(conn: Connection, access_key_id: str) -> tuple[bytes, PrincipalRow] | None:
    query = (
        select(access_keys.c.secret_encrypted, principals)
        .join(principals, principals.c.id == access_keys.c.principal_id)
        .where(access_keys.c.access_key_id == access_key_id)
    )
    record = conn.execute(query).first()
    return (record.secret_encrypted, row(record)) if record else None


def of_principals(conn: Connection) -> dict[int, list[str]]:
    found: dict[int, list[str]] = {}
    for key_id, principal_id in conn.execute(select(access_keys.c.access_key_id, access_keys.c.principal_id)):
        found.setdefault(principal_id, []).append(key_id)
    return found
