"""Blob rows (one per distinct digest) and their links to repositories."""

from __future__ import annotations

import time
from collections.abc import Iterable

from sqlalchemy import Connection, bindparam, delete, select, update

from .schema import blobs, repositories, repository_blobs
from .upsert import upsert

# Statements on the hot path are built once: building one costs more than SQLite running it.
# The locking variants take the blob row lock the garbage collector takes before deciding a
# blob is unused (PostgreSQL; SQLite's single writer already serialises them).
_LOCK = select(blobs.c.size).where(blobs.c.digest == bindparam("digest")).with_for_update()
_LINKED_SIZE = (
    select(blobs.c.size)
    .join(repository_blobs, repository_blobs.c.digest == blobs.c.digest)
    .join(repositories, repositories.c.id == repository_blobs.c.repository_id)
    .where(repositories.c.name == bindparam("repository"), blobs.c.digest == bindparam("digest"))
)
_LINKED_SIZE_LOCKED = _LINKED_SIZE.with_for_update(read=True, of=blobs)
_LINK_TIME = _LINKED_SIZE.with_only_columns(blobs.c.size, repository_blobs.c.created_at)
_TOUCH = (
    update(repository_blobs)
    .where(
        repository_blobs.c.digest == bindparam("linked"),
        repository_blobs.c.repository_id
        == select(repositories.c.id).where(repositories.c.name == bindparam("repository")).scalar_subquery(),
    )
    .values(created_at=bindparam("now"))
)
_LINKED_SIZES_LOCKED = (
    select(blobs.c.digest, blobs.c.size)
    .join(repository_blobs, repository_blobs.c.digest == blobs.c.digest)
    .where(
        repository_blobs.c.repository_id == bindparam("repository_id"),
        blobs.c.digest.in_(bindparam("digests", expanding=True)),
    )
    .with_for_update(read=True, of=blobs)
)


def lock(conn: Connection, digest: str) -> int | None:
    """The blob's size, locking its row until the transaction ends (None: no such blob)."""
    return conn.execute(_LOCK, {"digest": digest}).scalar()


def linked_size(conn: Connection, repository: str, digest: str, lock: bool = False) -> int | None:
    """The blob's size if `repository` links it, else None; `lock` holds a shared lock on the
    blob row."""
    statement = _LINKED_SIZE_LOCKED if lock else _LINKED_SIZE
    return conn.execute(statement, {"repository": repository, "digest": digest}).scalar()


def link_time(conn: Connection, repository: str, digest: str) -> tuple[int, float] | None:
    """(size, time of the link) of the blob if `repository` links it, else None."""
    row = conn.execute(_LINK_TIME, {"repository": repository, "digest": digest}).first()
    return (row.size, row.created_at) if row is not None else None


def touch(conn: Connection, repository: str, digest: str) -> bool:
    """Refresh the link's time, as an upload of the blob would; False when there is no link."""
    return conn.execute(_TOUCH, {"repository": repository, "linked": digest, "now": time.time()}).rowcount == 1


def record(conn: Connection, digest: str, blob_size: int) -> None:
    upsert(conn, blobs, {"digest": digest, "size": blob_size, "created_at": time.time()})


def link(conn: Connection, repository_id: int, digest: str) -> None:
    """Link the blob, or refresh the link's time: a fresh link is the lease that keeps a blob
    from garbage collection between its upload and the manifest that uses it."""
    upsert(conn, repository_blobs, {"repository_id": repository_id, "digest": digest, "created_at": time.time()})


def unlink(conn: Connection, repository_id: int, digest: str) -> bool:
    query = delete(repository_blobs).where(
        repository_blobs.c.repository_id == repository_id, repository_blobs.c.digest == digest
    )
    return conn.execute(query).rowcount > 0


def linked_sizes(conn: Connection, repository_id: int, digests: Iterable[str]) -> dict[str, int]:
    """Sizes of the blobs the repository links among `digests`, share-locking their rows."""
    wanted = list(set(digests))
    if not wanted:
        return {}
    rows = conn.execute(_LINKED_SIZES_LOCKED, {"repository_id": repository_id, "digests": wanted})
    return {row.digest: row.size for row in rows}
