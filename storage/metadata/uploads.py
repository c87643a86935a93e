"""Upload session rows: the committed offset, the hash state at that offset, the driver's
handle, and a lease (its token, its expiry and the process holding it, see storage.holders) so
that one request at a time writes to a session."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, delete, insert, or_, select, update

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
    lease_holder: str | None = None


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
        lease_holder=record.lease_holder,
    )


# Every push runs these: built once, since building a statement costs more than running it.
_CREATE = insert(uploads)
_GET = select(uploads).where(uploads.c.id == bindparam("upload_id"))
_GET_LOCKED = _GET.with_for_update()
_NO_LEASE = or_(uploads.c.lease_token.is_(None), uploads.c.lease_expires < bindparam("now"))
# Free, or held by the token we were told to replace (a holder known to be gone).
_LEASE_FREE = or_(_NO_LEASE, uploads.c.lease_token == bindparam("replacing"))
_TAKE_LEASE = (
    update(uploads)
    .where(uploads.c.id == bindparam("upload_id"), _LEASE_FREE)
    .values(lease_token=bindparam("token"), lease_expires=bindparam("expires"), lease_holder=bindparam("holder"))
)
_CHECKPOINT = (
    update(uploads)
    .where(uploads.c.id == bindparam("upload_id"), uploads.c.lease_token == bindparam("token"))
    .values(
        offset=bindparam("new_offset"),
        hash_state=bindparam("new_hash_state"),
        driver_state=bindparam("new_driver_state"),
        updated_at=bindparam("now"),
        lease_token=bindparam("new_token"),
        lease_expires=bindparam("expires"),
    )
)
_REMOVE = delete(uploads).where(uploads.c.id == bindparam("upload_id"))
_REMOVE_FRESH = _REMOVE.where(uploads.c.offset == 0, _NO_LEASE)


def create(
    conn: Connection, upload_id: str, repository: str, algorithm: str, driver_state: dict[str, Any]
) -> UploadRow:
    now = time.time()
    row = {"id": upload_id, "repository": repository, "offset": 0, "algorithm": algorithm, "hash_state": None}
    conn.execute(_CREATE, {**row, "driver_state": json.dumps(driver_state), "created_at": now, "updated_at": now})
    return UploadRow(upload_id, repository, 0, algorithm, None, driver_state, now, None, None, None)


def get(conn: Connection, upload_id: str, lock: bool = False) -> UploadRow | None:
    record = conn.execute(_GET_LOCKED if lock else _GET, {"upload_id": upload_id}).first()
    return _row(record) if record is not None else None


def is_fresh(row: UploadRow) -> bool:
    """Nothing written yet and nobody writing (an expired lease is nobody's), as _REMOVE_FRESH checks."""
    return row.offset == 0 and (row.lease_token is None or (row.lease_expires or 0) < time.time())


def take_lease(
    conn: Connection, upload_id: str, token: str, holder: str, seconds: float, replacing: str | None = None
) -> bool:
    """Take the lease if nobody holds it (or it expired, or its token is `replacing`); False otherwise."""
    now = time.time()
    params = {"upload_id": upload_id, "now": now, "token": token, "holder": holder, "expires": now + seconds}
    return conn.execute(_TAKE_LEASE, {**params, "replacing": replacing}).rowcount == 1


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
    params: dict[str, Any] = {
        "upload_id": upload_id,
        "token": token,
        "new_offset": offset,
        "new_hash_state": hash_state,
        "new_driver_state": json.dumps(driver_state),
        "now": now,
        "new_token": token if lease_seconds is not None else None,
        "expires": now + lease_seconds if lease_seconds is not None else None,
    }
    return conn.execute(_CHECKPOINT, params).rowcount == 1


def remove(conn: Connection, upload_id: str) -> bool:
    return conn.execute(_REMOVE, {"upload_id": upload_id}).rowcount == 1


def remove_fresh(conn: Connection, upload_id: str) -> bool:
    """Remove the session if nothing was written to it and nobody is writing; False otherwise."""
    return conn.execute(_REMOVE_FRESH, {"upload_id": upload_id, "now": time.time()}).rowcount == 1


def stale(conn: Connection, older_than: float, limit: int = 100) -> list[UploadRow]:
    """Sessions untouched since `older_than` that nobody is writing to."""
    now = time.time()
    idle = or_(uploads.c.lease_token.is_(None), uploads.c.lease_expires < now)
    query = select(uploads).where(uploads.c.updated_at < older_than, idle).limit(limit)
    return [_row(r) for r in conn.execute(query)]


def remove_if_unchanged(conn: Connection, row: UploadRow) -> bool:
    query = delete(uploads).where(uploads.c.id == row.id, uploads.c.updated_at == row.updated_at)
    return conn.execute(query).rowcount == 1
