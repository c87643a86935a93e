"""Scan rows: the queue of images to scan and the results of the last scan of each.

A request makes the row PENDING (a row IN_PROGRESS keeps running and runs again afterwards:
its requested_at is then later than its started_at). A worker claims the oldest PENDING row,
or an IN_PROGRESS one whose lease ran out (its worker died), together with a named lease on
the image digest (locks.py), so that one process of every worker and replica scans a digest at
a time even when several repositories hold it. The worker renews both while it works and
writes the result only while it still holds them.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, and_, delete, exists, or_, select, update

from . import locks
from .schema import blobs, manifests, repositories, scan_inventories, scan_layers, scans
from .upsert import upsert

PENDING, IN_PROGRESS, COMPLETE, FAILED, UNSUPPORTED = (
    "PENDING",
    "IN_PROGRESS",
    "COMPLETE",
    "FAILED",
    "UNSUPPORTED_IMAGE",
)
DONE = (COMPLETE, FAILED, UNSUPPORTED)
CANDIDATES = 20  # rows looked at per claim: those whose digest another worker scans are passed over


@dataclass(frozen=True, slots=True)
class ScanRow:
    repository_id: int
    repository: str
    digest: str
    status: str
    description: str | None
    reason: str
    requested_at: float
    started_at: float | None
    completed_at: float | None
    attempts: int
    source_updated_at: float | None
    counts: dict[str, int]
    findings: list[dict[str, Any]] | None


def _row(record: Any) -> ScanRow:
    return ScanRow(
        repository_id=record.repository_id,
        repository=record.name,
        digest=record.digest,
        status=record.status,
        description=record.description,
        reason=record.reason,
        requested_at=record.requested_at,
        started_at=record.started_at,
        completed_at=record.completed_at,
        attempts=record.attempts,
        source_updated_at=record.source_updated_at,
        counts=json.loads(record.counts) if record.counts else {},
        findings=json.loads(record.findings) if record.findings else None,
    )


def _select() -> Any:
    return select(scans, repositories.c.name).join(repositories, repositories.c.id == scans.c.repository_id)


def _key(repository_id: int, digest: str) -> Any:
    return and_(scans.c.repository_id == repository_id, scans.c.digest == digest)


def lock_name(digest: str) -> str:
    """The lease on scanning a digest (the locks table allows 64 characters)."""
    return "scan:" + digest.partition(":")[2][:59]


def get(conn: Connection, repository_id: int, digest: str) -> ScanRow | None:
    record = conn.execute(_select().where(_key(repository_id, digest))).first()
    return _row(record) if record is not None else None


def of_images(conn: Connection, repository_id: int, digests: Iterable[str]) -> dict[str, ScanRow]:
    query = _select().where(scans.c.repository_id == repository_id, scans.c.digest.in_(set(digests)))
    return {record.digest: _row(record) for record in conn.execute(query)}


def request(conn: Connection, repository_id: int, digest: str, reason: str) -> ScanRow:
    """Queue a scan of the image (inside the caller's write transaction)."""
    now = time.time()
    current = conn.execute(select(scans.c.status).where(_key(repository_id, digest)).with_for_update()).scalar()
    if current is None:
        values = {"repository_id": repository_id, "digest": digest, "status": PENDING, "reason": reason}
        conn.execute(scans.insert().values(**values, requested_at=now, attempts=0))
    elif current == IN_PROGRESS:
        conn.execute(update(scans).where(_key(repository_id, digest)).values(requested_at=now, reason=reason))
    elif current != PENDING:
        changes = {"status": PENDING, "reason": reason, "requested_at": now, "attempts": 0, "description": None}
        conn.execute(update(scans).where(_key(repository_id, digest)).values(**changes))
    found = get(conn, repository_id, digest)
    assert found is not None
    return found


def request_all(conn: Connection, reason: str) -> int:
    """Queue every image that was scanned before again (a new advisory database); returns how many."""
    now = time.time()
    done = conn.execute(
        update(scans)
        .where(scans.c.status.in_(DONE))
        .values(status=PENDING, reason=reason, requested_at=now, attempts=0, description=None)
    ).rowcount
    running = conn.execute(update(scans).where(scans.c.status == IN_PROGRESS).values(requested_at=now)).rowcount
    return int(done) + int(running)


def claim(conn: Connection, holder: str, lease: float, only: tuple[int, str] | None = None) -> ScanRow | None:
    """Take the next scan to run (or the scan `only`), with the lease on its digest; None when
    there is none."""
    now = time.time()
    runnable = or_(scans.c.status == PENDING, and_(scans.c.status == IN_PROGRESS, scans.c.lease_expires < now))
    query = select(scans.c.repository_id, scans.c.digest).where(runnable).order_by(scans.c.requested_at)
    if only is not None:
        query = query.where(_key(*only))
    query = query.limit(CANDIDATES)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    for repository_id, digest in conn.execute(query).all():
        if not locks.acquire(conn, lock_name(digest), holder, lease):
            continue
        conn.execute(
            update(scans)
            .where(_key(repository_id, digest))
            .values(
                status=IN_PROGRESS,
                started_at=now,
                lease_holder=holder,
                lease_expires=now + lease,
                attempts=scans.c.attempts + 1,
            )
        )
        return get(conn, repository_id, digest)
    return None


def renew(conn: Connection, repository_id: int, digest: str, holder: str, lease: float) -> bool:
    """Extend the lease; False when it was lost (it ran out and another worker took the scan)."""
    held = update(scans).where(_key(repository_id, digest), scans.c.lease_holder == holder)
    if conn.execute(held.values(lease_expires=time.time() + lease)).rowcount == 0:
        return False
    return locks.acquire(conn, lock_name(digest), holder, lease)


def finish(
    conn: Connection,
    repository_id: int,
    digest: str,
    holder: str,
    status: str,
    description: str | None,
    source_updated_at: float | None = None,
    counts: dict[str, int] | None = None,
    findings: list[dict[str, Any]] | None = None,
) -> ScanRow | None:
    """Record the outcome (while holding the lease) and release the digest; a scan requested
    while it ran goes back to PENDING, keeping these results. None when the lease was lost."""
    row = get(conn, repository_id, digest)
    owner = conn.execute(select(scans.c.lease_holder).where(_key(repository_id, digest))).scalar()
    locks.release(conn, lock_name(digest), holder)
    if row is None or owner != holder or row.status != IN_PROGRESS:
        return None
    again = row.started_at is not None and row.requested_at > row.started_at
    values: dict[str, Any] = {
        "status": PENDING if again else status,
        "description": description,
        "completed_at": time.time(),
        "lease_holder": None,
        "lease_expires": None,
    }
    if status == COMPLETE or findings is not None:
        values |= {
            "source_updated_at": source_updated_at,
            "counts": json.dumps(counts or {}),
            "findings": json.dumps(findings or [], separators=(",", ":")),
        }
    conn.execute(update(scans).where(_key(repository_id, digest)).values(**values))
    return row


def release(conn: Connection, repository_id: int, digest: str, holder: str) -> None:
    """Give the scan back to the queue unfinished (the process is stopping)."""
    held = update(scans).where(_key(repository_id, digest), scans.c.lease_holder == holder)
    conn.execute(held.values(status=PENDING, lease_holder=None, lease_expires=None, attempts=scans.c.attempts - 1))
    locks.release(conn, lock_name(digest), holder)


def forget(conn: Connection, repository_id: int, digest: str) -> None:
    conn.execute(delete(scans).where(_key(repository_id, digest)))


# -- cached layer indexes and inventories -------------------------------------------------------


def cached(conn: Connection, kind: str, digest: str, reader: int) -> str | None:
    table = scan_layers if kind == "layer" else scan_inventories
    query = select(table.c.content).where(table.c.digest == digest, table.c.reader == reader)
    return conn.execute(query).scalar()


def cache(conn: Connection, kind: str, digest: str, reader: int, content: str) -> None:
    table = scan_layers if kind == "layer" else scan_inventories
    upsert(conn, table, {"digest": digest, "reader": reader, "content": content, "created_at": time.time()})


def prune(conn: Connection) -> int:
    """Drop scans of images that are gone, and cached layers and inventories nothing holds."""
    image_gone = ~exists().where(
        manifests.c.repository_id == scans.c.repository_id, manifests.c.digest == scans.c.digest
    )
    removed = conn.execute(delete(scans).where(image_gone, scans.c.status.in_((*DONE, PENDING)))).rowcount
    removed += conn.execute(delete(scan_layers).where(~exists().where(blobs.c.digest == scan_layers.c.digest))).rowcount
    unused = ~exists().where(manifests.c.digest == scan_inventories.c.digest)
    removed += conn.execute(delete(scan_inventories).where(unused)).rowcount
    return int(removed)
