"""What the registry holds, counted for its metrics: blobs and their bytes, repositories,
images and open upload sessions. One read transaction, so the numbers agree with each other."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, Table, func, select

from .engine import Database
from .schema import blobs, manifests, repositories, uploads


@dataclass(frozen=True, slots=True)
class Inventory:
    blobs: int
    blob_bytes: int
    repositories: int
    images: int  # manifests, counted once per repository holding them
    upload_sessions: int


def _count(conn: Connection, table: Table) -> int:
    return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def take(db: Database) -> Inventory:
    with db.read() as conn:
        count, size = conn.execute(select(func.count(), func.coalesce(func.sum(blobs.c.size), 0))).one()
        return Inventory(
            blobs=int(count),
            blob_bytes=int(size),
            repositories=_count(conn, repositories),
            images=_count(conn, manifests),
            upload_sessions=_count(conn, uploads),
        )
