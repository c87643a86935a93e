"""Blob rows (one per distinct digest) and their links to repositories."""

from __future__ import annotations

import time
from collections.abc import Iterable

from sqlalchemy import Connection, delete, select

from .schema import blobs, repositories, repository_blobs
from .upsert import upsert


def lock(conn: Connection, digest: str) -> int | None:
    """The blob's size, locking its row until the transaction ends (None: no such blob)."""
    return conn.execute(select(blobs.c.size).where(blobs.c.digest == digest).with_for_update()).scalar()


def linked_size(conn: Connection, repository: str, digest: str, lock: bool = False) -> int | None:
    """The blob's size if `repository` links it, else None; `lock` holds a shared lock on the
    blob row (what the garbage collector locks before deciding a blob is unused)."""
    query = (
        select(blobs.c.size)
        .join(repository_blobs, repository_blobs.c.digest == blobs.c.digest)
        .join(repositories, repositories.c.id == repository_blobs.c.repository_id)
        .where(repositories.c.name == repository, blobs.c.digest == digest)
    )
    return conn.execute(query.with_for_update(read=True, of=blobs) if lock else query).scalar()


def record(conn: Connection, digest: str, blob_size: int) -> None:
    conn.execute(upsert(conn, blobs, {"digest": digest, "size": blob_size, "created_at": time.time()}))


def link(conn: Connection, repository_id: int, digest: str) -> None:
    """Link the blob, or refresh the link's time: a fresh link is the lease that keeps a blob
    from garbage collection between its upload and the manifest that uses it."""
    row = {"repository_id": repository_id, "digest": digest, "created_at": time.time()}
    conn.execute(upsert(conn, repository_blobs, row))


def unlink(conn: Connection, repository_id: int, digest: str) -> bool:
    query = delete(repository_blobs).where(
        repository_blobs.c.repository_id == repository_id, repository_blobs.c.digest == digest
    )
    return conn.execute(query).rowcount > 0


def linked_sizes(conn: Connection, repository_id: int, digests: Iterable[str]) -> dict[str, int]:
    wanted = list(set(digests))
    if not wanted:
        return {}
    query = (
        select(blobs.c.digest, blobs.c.size)
        .join(repository_blobs, repository_blobs.c.digest == blobs.c.digest)
        .where(repository_blobs.c.repository_id == repository_id, blobs.c.digest.in_(wanted))
    )
    # Shared row locks: the garbage collector locks a blob row before deciding it is unused.
    return {row.digest: row.size for row in conn.execute(query.with_for_update(read=True, of=blobs))}
