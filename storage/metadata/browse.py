"""Read-only queries for browsing the registry a page at a time (the web console): figures of
many repositories in one query each, a repository's images newest first, and tag moves.

Every page is a keyset page (`before` the last row shown), answered from an index in the order
shown (see the console section of schema.py), so a page costs the same at the start and at the
end of a repository of many thousand images; the figures of a page of repositories come from
grouped queries over just those repositories, never one query per row.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Select, exists, func, select, tuple_

from .schema import blobs, manifest_references, manifests, repository_blobs, tag_history, tags


@dataclass(frozen=True, slots=True)
class RepositoryFigures:
    image_count: int
    size: int  # bytes of the blobs the repository holds plus its manifests
    last_push: float | None


@dataclass(frozen=True, slots=True)
class TagMove:
    id: int
    tag: str
    digest: str | None  # None: the tag was deleted
    previous: str | None  # None: the tag was created
    at: float
    actor_kind: str | None  # who moved it (storage/actor.py); None: moved before this was recorded
    actor_name: str | None
    reason: str | None = None  # why, when it was not a plain push or delete (a revert)

    def document(self) -> dict[str, Any]:
        """As `cais tag history --json` and the API show it."""
        who = {"kind": self.actor_kind, "name": self.actor_name} if self.actor_kind else None
        return {"at": self.at, "actor": who, "from": self.previous, "to": self.digest, "reason": self.reason}


def figures(conn: Connection, repository_ids: list[int]) -> dict[int, RepositoryFigures]:
    """Image count, size and last push of each repository, in two queries whatever their number."""
    if not repository_ids:
        return {}
    per_manifest = (
        select(
            manifests.c.repository_id,
            func.count().label("images"),
            func.max(manifests.c.pushed_at).label("last_push"),
            func.sum(manifests.c.size).label("manifest_bytes"),
        )
        .where(manifests.c.repository_id.in_(repository_ids))
        .group_by(manifests.c.repository_id)
    )
    per_blob = (
        select(repository_blobs.c.repository_id, func.sum(blobs.c.size).label("blob_bytes"))
        .join(blobs, blobs.c.digest == repository_blobs.c.digest)
        .where(repository_blobs.c.repository_id.in_(repository_ids))
        .group_by(repository_blobs.c.repository_id)
    )
    images = {row.repository_id: row for row in conn.execute(per_manifest)}
    blob_bytes = {row.repository_id: int(row.blob_bytes or 0) for row in conn.execute(per_blob)}
    found = {}
    for repository_id in repository_ids:
        row = images.get(repository_id)
        count, last, own = (row.images, row.last_push, int(row.manifest_bytes or 0)) if row else (0, None, 0)
        found[repository_id] = RepositoryFigures(count, own + blob_bytes.get(repository_id, 0), last)
    return found


def _top_level(query: Select[Any], repository_id: int) -> Select[Any]:
    """Leave out what belongs to another image: an index's platform manifests and referrers
    (signatures, SBOMs) whose subject is in the repository. Both show on their image's page.

    The first condition reads (repository, child) alone so that SQLite answers it from
    ix_manifest_references_child: with the reference's kind in it, or `SELECT *`, SQLite prefers
    the covering primary key and reads every reference of the repository for each image (200 ms
    a page in a repository of 5,000 images, against a few ms). So any reference counts, not only
    an index's: a manifest that another lists as a blob is as much a part of that one."""
    listed = (
        select(manifest_references.c.child)
        .where(manifest_references.c.repository_id == repository_id, manifest_references.c.child == manifests.c.digest)
        .exists()
    )
    subject = manifests.alias("subject_manifest")
    subject_present = exists().where(subject.c.repository_id == repository_id, subject.c.digest == manifests.c.subject)
    return query.where(~listed, ~subject_present)


def newest_images(
    conn: Connection,
    repository_id: int,
    before: tuple[float, str] | None,
    limit: int,
    tag_contains: str = "",
    everything: bool = False,
) -> list[tuple[float, str]]:
    """(pushed_at, digest) of the images pushed last, before the keyset `before`. `tag_contains`:
    only images with a tag holding that text (or whose digest starts with it, for `sha256:...`);
    `everything`: platform manifests and referrers too."""
    query = select(manifests.c.pushed_at, manifests.c.digest).where(manifests.c.repository_id == repository_id)
    if before is not None:
        query = query.where(tuple_(manifests.c.pushed_at, manifests.c.digest) < tuple_(*before))
    if tag_contains.startswith("sha256:"):
        query = query.where(manifests.c.digest.startswith(tag_contains, autoescape=True))
    elif tag_contains:
        query = query.where(
            exists().where(
                tags.c.repository_id == repository_id,
                tags.c.digest == manifests.c.digest,
                tags.c.name.icontains(tag_contains, autoescape=True),
            )
        )
    if not everything:
        query = _top_level(query, repository_id)
    query = query.order_by(manifests.c.pushed_at.desc(), manifests.c.digest.desc()).limit(limit)
    return [(row.pushed_at, row.digest) for row in conn.execute(query)]


def referrers(conn: Connection, repository_id: int, subject: str, limit: int) -> list[str]:
    """Digests of the manifests whose subject is `subject`, newest first."""
    query = (
        select(manifests.c.digest)
        .where(manifests.c.repository_id == repository_id, manifests.c.subject == subject)
        .order_by(manifests.c.pushed_at.desc())
        .limit(limit)
    )
    return list(conn.execute(query).scalars())


def tag_moves(
    conn: Connection, repository_id: int, before: int | None, limit: int, only_tags: list[str] | None = None
) -> list[TagMove]:
    """Tag moves newest first, before the move with id `before`; `only_tags`: of those tags only."""
    query = select(tag_history).where(tag_history.c.repository_id == repository_id)
    if before is not None:
        query = query.where(tag_history.c.id < before)
    if only_tags is not None:
        query = query.where(tag_history.c.tag.in_(only_tags))
    rows = conn.execute(query.order_by(tag_history.c.id.desc()).limit(limit))
    return [TagMove(r.id, r.tag, r.digest, r.previous, r.at, r.actor_kind, r.actor_name, r.reason) for r in rows]
