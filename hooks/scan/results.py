"""Reading scans: the state and findings of the last scan of images of a repository."""

from __future__ import annotations

from collections.abc import Iterable

from storage.metadata import repositories, scans
from storage.metadata.engine import Database
from storage.metadata.scans import ScanRow


def scan_of(db: Database, repository: str, digest: str) -> ScanRow | None:
    with db.read() as conn:
        return scans.get(conn, repositories.require(conn, repository), digest)


def scans_of(db: Database, repository: str, digests: Iterable[str]) -> dict[str, ScanRow]:
    with db.read() as conn:
        return scans.of_images(conn, repositories.require(conn, repository), digests)
