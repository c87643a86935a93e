"""Browsing the registry a page at a time, as the web console shows it: repositories with their
figures, a repository's images newest first, one image with everything around it, tag moves.
Read-only; a page is a fixed number of queries whatever its length (storage/metadata/browse.py)."""

from __future__ import annotations

from dataclasses import dataclass

from .errors import ManifestUnknown
from .metadata import browse, images, repositories
from .metadata import manifests as manifest_rows
from .metadata.browse import RepositoryFigures, TagMove
from .metadata.engine import Database
from .metadata.images import ImageRow
from .metadata.repositories import RepositoryRow

Cursor = tuple[float, str]  # (pushed_at, digest) of the last image shown


@dataclass(frozen=True, slots=True)
class RepositorySummary:
    row: RepositoryRow
    figures: RepositoryFigures

    @property
    def name(self) -> str:
        return self.row.name


@dataclass(frozen=True, slots=True)
class ImageDetail:
    image: ImageRow
    body: bytes  # the manifest as pushed
    children: list[ImageRow]  # the platform manifests of an index that the repository holds
    referrers: list[ImageRow]  # signatures, SBOMs... whose subject is this image
    parents: list[str]  # indexes of the repository that list this image
    moves: list[TagMove]  # the latest moves of the tags that point to it


class Browse:
    def __init__(self, db: Database) -> None:
        self.db = db

    def summaries(self, names: list[str]) -> list[RepositorySummary]:
        """The repositories of these names (absent ones left out), in name order."""
        with self.db.read() as conn:
            rows = repositories.rows(conn, "", len(names), only=names) if names else []
            found = browse.figures(conn, [row.id for row in rows])
        return [RepositorySummary(row, found[row.id]) for row in rows]

    def images(
        self, repository: str, before: Cursor | None, limit: int, contains: str = "", everything: bool = False
    ) -> tuple[list[ImageRow], bool]:
        """A page of the repository's images, newest first, and whether more follow."""
        with self.db.read() as conn:
            repository_id = repositories.require(conn, repository)
            keys = browse.newest_images(conn, repository_id, before, limit + 1, contains, everything)
            return images.rows(conn, repository_id, [digest for _, digest in keys[:limit]]), len(keys) > limit

    def image(self, repository: str, digest: str, related: int = 100) -> ImageDetail:
        """One image; at most `related` referrers and tag moves."""
        with self.db.read() as conn:
            repository_id = repositories.require(conn, repository)
            found = images.rows(conn, repository_id, [digest])
            body = manifest_rows.body(conn, digest)
            if not found or body is None:
                raise ManifestUnknown(f"manifest {digest} unknown to {repository}", {"digest": digest})
            image = found[0]
            children = images.rows(
                conn, repository_id, sorted(images.children_of(conn, repository_id, {digest})[digest])
            )
            referrers = images.rows(conn, repository_id, browse.referrers(conn, repository_id, digest, related))
            parents = manifest_rows.referencing(conn, repository_id, digest)
            moves = browse.tag_moves(conn, repository_id, None, related, list(image.tags)) if image.tags else []
        return ImageDetail(image, body, children, referrers, sorted(parents), moves)

    def moves(self, repository: str, before: int | None, limit: int) -> tuple[list[TagMove], bool]:
        """A page of the repository's tag moves, newest first, and whether more follow."""
        with self.db.read() as conn:
            found = browse.tag_moves(conn, repositories.require(conn, repository), before, limit + 1)
        return found[:limit], len(found) > limit
