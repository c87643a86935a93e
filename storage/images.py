"""Listing and describing the images of a repository, page by page."""

from __future__ import annotations

from dataclasses import dataclass

from .metadata import images, repositories
from .metadata import tags as tag_rows
from .metadata.engine import Database
from .metadata.images import ImageRow


@dataclass(frozen=True, slots=True)
class ImageRef:
    """A client's reference to an image: a digest, a tag, or both (which must agree)."""

    digest: str | None = None
    tag: str | None = None


@dataclass(frozen=True, slots=True)
class Lookup:
    ref: ImageRef
    image: ImageRow | None
    mismatch: bool = False  # the tag exists but points elsewhere than the digest given


class ImageStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def identifiers(
        self, repository: str, status: str, after: tuple[str, str], limit: int
    ) -> tuple[list[tuple[str, str | None]], bool]:
        with self.db.read() as conn:
            found = images.identifiers(conn, repositories.require(conn, repository), status, after, limit + 1)
        return found[:limit], len(found) > limit

    def page(self, repository: str, status: str, after: str, limit: int) -> tuple[list[ImageRow], bool]:
        with self.db.read() as conn:
            repository_id = repositories.require(conn, repository)
            found = images.digests(conn, repository_id, status, after, limit + 1)
            return images.rows(conn, repository_id, found[:limit]), len(found) > limit

    def all(self, repository: str) -> list[ImageRow]:
        with self.db.read() as conn:
            repository_id = repositories.require(conn, repository)
            return images.rows(conn, repository_id, sorted(images.all_digests(conn, repository_id)))

    def lookup(self, repository: str, refs: list[ImageRef]) -> list[Lookup]:
        with self.db.read() as conn:
            repository_id = repositories.require(conn, repository)
            results = []
            for ref in refs:
                digest = tag_rows.current(conn, repository_id, ref.tag, lock=False) if ref.tag else ref.digest
                if ref.tag and ref.digest and digest is not None and digest != ref.digest:
                    results.append(Lookup(ref, None, mismatch=True))
                    continue
                found = images.rows(conn, repository_id, [digest]) if digest else []
                results.append(Lookup(ref, found[0] if found else None))
            return results
