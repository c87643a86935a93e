"""Upload session rows: the committed offset, the hash state at that offset, the driver's
handle, and a lease so that one request at a time writes to a session."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, and_, delete, insert, or_, select, update

from .schema import uploads


@dataclass(slots=True)
class UploadRow:
    id: str
    repository: str
    offset: int
    algorithm: str
    hash_state: bytes | None
    driver_state: dict[str, Any]
    updated_at: float
    lease_token: str | None
    lease_expires: float | None


def _row(record: Any) -> UploadRow:
    return UploadRow(
        id=record.id,
        repository=record.repository,
        offset=record.offset,
        algorithm=record.algorithm,
        hash_state=record.hash_state,
        driver_state=json.loads(record.driver_state),
        updated_at=record.updated_at,
        lease_token=record.lease_token,
        lease_expires=record.lease_expires,
    )


def create(conn: Connection, upload_id: str, repository: str, algorithm: str, driver_state: dict[str, Any]) -> None:
    now = time.time()
    conn.execute(
        insert(uploads).values(
            id=upload_id,
            repository=repository,
            offset=0,
            algorithm=algorithm,
            hash_state=None,
            driver_state=json.dumps(driver_state),
            created_at=now,
            updated_at=now,
        )
    )


def get(conn: Connection, upload_id: str, lock: bool = False) -> UploadRow | None:
    query = select(uploads).where(uploads.c.id == upload_id)
    record = conn.execute(query.with_for_update() if lock else query).first()
    return _row(record) if record is not None else None


def take_lease(conn: Connection, upload_id: str, token: str, seconds: float) -> bool:
    now = time.time()
    free = or_(uploads.c.lease_token.is_(None), uploads.c.lease_expires < now, uploads.c.lease_token == token)
    query = update(uploads).where(and_(uploads.c.id == upload_id, free))
    return conn.execute(query.values(lease_token=token, lease_expires=now + seconds)).rowcount == 1


def checkpoint(
    conn: Connection,
    upload_id: str,
    token: str,
    offset: int,
    hash_state: bytes | None,
    driver_state: dict[str, Any],
    lease_seconds: float | None,
) -> bool:
    """Record progress under our lease; lease_seconds None releases the lease. False: lost it."""
    now = time.time()
    values: dict[str, Any] = {
        "offset": offset,
        "hash_state": hash_state,
        "driver_state": json.dumps(driver_state),
        "updated_at": now,
        "lease_token": token if lease_seconds is not None else None,
        "lease_expires": now + lease_seconds if lease_seconds is not None else None,
    }
    query = update(uploads).where(uploads.c.id == upload_id, uploads.c.lease_token == token)
    return conn.execute(query.values(**values)).rowcount == 1


def remove(conn: Connection, upload_id: str) -> bool:
    return conn.execute(delete(uploads).where(uploads.c.id == upload_id)).rowcount == 1


def stale(conn: Connection, older_than: float, limit: int = 100) -> list[UploadRow]:
    """Sessions untouched since `older_than` that nobody is writing to."""
    now = time.time()
    idle = or_(uploads.c.lease_token.is_(None), uploads.c.lease_expires < now)
    query = select(uploads).where(uploads.c.updated_at < older_than, idle).limit(limit)
    return [_row(r) for r in conn.execute(query)]


def remove_if_unchanged(conn: Connection, row: UploadRow) -> bool:
    query = delete(uploads).where(uploads.c.id == row.id, uploads.c.updated_at == row.updated_at)
    return conn.execute(query).rowcount == 1
