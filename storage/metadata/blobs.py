"""Blob rows (one per distinct digest) and their links to repositories."""

from __future__ import annotations

import time
from collections.abc import Iterable

from sqlalchemy import Connection, bindparam, delete, select

from .schema import blobs, repositories, repository_blobs
from .upsert import insert_ignore

# Statements on the hot path are built once: building one costs more than SQLite running it.
_SIZE = select(blobs.c.size).where(blobs.c.digest == bindparam("digest"))
_LINKED_SIZE = (
    select(blobs.c.size)
    .join(repository_blobs, repository_blobs.c.digest == blobs.c.digest)
    .join(repositories, repositories.c.id == repository_blobs.c.repository_id)
    .where(repositories.c.name == bindparam("repository"), blobs.c.digest == bindparam("digest"))
)

_LINKED_SIZES = (
    select(blobs.c.digest, blobs.c.size)
    .join(repository_blobs, repository_blobs.c.digest == blobs.c.digest)
    .where(
        repository_blobs.c.repository_id == bindparam("repository_id"),
        blobs.c.digest.in_(bindparam("digests", expanding=True)),
    )
)


def size(conn: Connection, digest: str) -> int | None:
    return conn.execute(_SIZE, {"digest": digest}).scalar()


def linked_size(conn: Connection, repository: str, digest: str) -> int | None:
    """The blob's size if `repository` links it, else None."""
    return conn.execute(_LINKED_SIZE, {"repository": repository, "digest": digest}).scalar()


def record(conn: Connection, digest: str, blob_size: int) -> None:
    insert_ignore(conn, blobs, {"digest": digest, "size": blob_size, "created_at": time.time()})


def link(conn: Connection, repository_id: int, digest: str) -> None:
    row = {"repository_id": repository_id, "digest": digest, "created_at": time.time()}
    insert_ignore(conn, repository_blobs, row)


def unlink(conn: Connection, repository_id: int, digest: str) -> bool:
    query = delete(repository_blobs).where(
        repository_blobs.c.repository_id == repository_id, repository_blobs.c.digest == digest
    )
    return conn.execute(query).rowcount > 0


def linked_sizes(conn: Connection, repository_id: int, digests: Iterable[str]) -> dict[str, int]:
    wanted = list(set(digests))
    if not wanted:
        return {}
    rows = conn.execute(_LINKED_SIZES, {"repository_id": repository_id, "digests": wanted})
    return {row.digest: row.size for row in rows}
