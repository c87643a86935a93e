"""Online garbage collection: reclaim blobs and manifest bodies nothing uses any more, while
the registry keeps serving pushes and pulls.

A blob's life: an upload links it to a repository (the link's time is refreshed by every
upload of the same bytes, so a fresh link is the lease of a push in progress), a manifest PUT
references it, deletes drop references. The collector works in three steps:

1. Links not referenced by any manifest of their repository and older than the grace period
   are dropped: a push that uploaded a blob and never used it has given up on it.
2. A blob with no link and no reference left is deleted: in one transaction that locks its
   row, re-checks both conditions, deletes the bytes, then the row. Every path that makes a
   blob reachable (upload completion, mount, manifest PUT) locks the same row in the
   transaction that links or references it, so a concurrent push either commits first (and
   the collector sees its link) or waits and sees the blob gone (and uploads the bytes again,
   committing them under its own lock). An upload publishes its bytes before it takes the
   lock, so that other writers need not wait for its disk: under the lock it checks they are
   still there and, if the collector took them meanwhile, publishes them again from the
   upload's own bytes, kept until the blob is recorded. The bytes are never removed after a
   row that needs them exists.
3. Manifest bodies (shared by digest across repositories) that no repository holds are
   deleted.

Untagged manifests are not collected here: they are images, and lifecycle policies decide
when they go. Images the deployer needs (`protected`: a live task runs them, a deployment may
start them again, a rollback would return to them; deployer/retention.py) keep their manifest
body, blobs and links even when their manifest was deleted from the repository, so that the
image can be pushed back without uploading a byte; the plan says why they are kept.

A crash between deleting the bytes and committing leaves a row without bytes that nothing
links: the next collection deletes the row (and an upload of the same digest puts the bytes
back, since it checks the bytes exist before reusing a row).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Exists, delete, exists, select

from . import keys, manifest_format
from .digest import Digest
from .drivers.base import Driver
from .errors import ManifestInvalid
from .metadata import blobs as blob_rows
from .metadata.engine import Database
from .metadata.schema import blobs, manifest_bodies, manifest_references, manifests, repositories, repository_blobs

Progress = Callable[[int], object]
# (repository, manifest digest) of images that must keep their bytes, each with why.
Protected = Callable[[], Mapping[tuple[str, str], str]]


def nothing_protected() -> Mapping[tuple[str, str], str]:
    return {}


@dataclass(frozen=True, slots=True)
class StaleLink:
    repository_id: int
    repository: str
    digest: str


@dataclass(frozen=True, slots=True)
class Plan:
    """What a collection would remove now (a dry run shows it; a run re-checks every item)."""

    cutoff: float
    links: list[StaleLink]
    blobs: dict[str, int]  # digest -> size
    bodies: list[str]
    kept: dict[str, str] = field(default_factory=dict)  # digest -> why (blobs and bodies of protected images)

    @property
    def bytes(self) -> int:
        return sum(self.blobs.values())

    @property
    def steps(self) -> int:
        return len(self.links) + len(self.blobs) + len(self.bodies)


@dataclass
class Result:
    links: int = 0
    blobs: int = 0
    bytes: int = 0
    bodies: int = 0
    skipped: list[str] = field(default_factory=list)  # became used again since the plan

    def __bool__(self) -> bool:
        return bool(self.links or self.blobs or self.bodies)


def _referenced_in(repository_id: Any, digest: Any) -> Exists:
    return exists().where(
        manifest_references.c.repository_id == repository_id,
        manifest_references.c.child == digest,
        manifest_references.c.kind == "blob",
    )


def _referenced_anywhere(digest: Any) -> Exists:
    return exists().where(manifest_references.c.child == digest, manifest_references.c.kind == "blob")


def _linked(digest: Any) -> Exists:
    return exists().where(repository_blobs.c.digest == digest)


class Collector:
    def __init__(
        self, db: Database, driver: Driver, grace_seconds: float, protected: Protected = nothing_protected
    ) -> None:
        self.db = db
        self.driver = driver
        self.grace = grace_seconds
        self.protected = protected

    def plan(self) -> Plan:
        cutoff = time.time() - self.grace
        needed = self.protected()
        with self.db.read() as conn:
            kept, pairs = _held(conn, needed)
            links = [link for link in self._stale_links(conn, cutoff) if (link.repository, link.digest) not in pairs]
            dead = self._dead_blobs(conn, cutoff)
            bodies = self._dead_bodies(conn)
        return Plan(
            cutoff,
            links,
            {digest: size for digest, size in dead.items() if digest not in kept},
            [digest for digest in bodies if digest not in kept],
            {digest: why for digest, why in kept.items() if digest in dead or digest in bodies},
        )

    @staticmethod
    def _stale_links(conn: Connection, cutoff: float) -> list[StaleLink]:
        query = (
            select(repository_blobs.c.repository_id, repositories.c.name, repository_blobs.c.digest)
            .join(repositories, repositories.c.id == repository_blobs.c.repository_id)
            .where(repository_blobs.c.created_at < cutoff)
            .where(~_referenced_in(repository_blobs.c.repository_id, repository_blobs.c.digest))
        )
        return [
            StaleLink(r.repository_id, r.name, r.digest)
            for r in conn.execute(query.order_by(repository_blobs.c.digest))
        ]

    @staticmethod
    def _dead_blobs(conn: Connection, cutoff: float) -> dict[str, int]:
        """Blobs that no manifest references and that only stale links (if any) hold."""
        fresh = exists().where(repository_blobs.c.digest == blobs.c.digest, repository_blobs.c.created_at >= cutoff)
        query = select(blobs.c.digest, blobs.c.size).where(~fresh, ~_referenced_anywhere(blobs.c.digest))
        return {r.digest: r.size for r in conn.execute(query.order_by(blobs.c.digest))}

    @staticmethod
    def _dead_bodies(conn: Connection) -> list[str]:
        held = exists().where(manifests.c.digest == manifest_bodies.c.digest)
        return list(
            conn.execute(select(manifest_bodies.c.digest).where(~held).order_by(manifest_bodies.c.digest)).scalars()
        )

    def collect(self, plan: Plan | None = None, progress: Progress | None = None) -> Result:
        plan = plan or self.plan()
        tick = progress or (lambda _: None)
        result = Result()
        for link in plan.links:
            result.links += self._drop_link(link, plan.cutoff)
            tick(1)
        for digest in plan.blobs:
            freed = self._delete_blob(digest)
            if freed is None:
                result.skipped.append(digest)
            else:
                result.blobs += 1
                result.bytes += freed
            tick(1)
        for digest in plan.bodies:
            result.bodies += self._delete_body(digest)
            tick(1)
        return result

    def _drop_link(self, link: StaleLink, cutoff: float) -> int:
        with self.db.write() as conn:
            blob_rows.lock(conn, link.digest)
            query = delete(repository_blobs).where(
                repository_blobs.c.repository_id == link.repository_id,
                repository_blobs.c.digest == link.digest,
                repository_blobs.c.created_at < cutoff,
                ~_referenced_in(link.repository_id, link.digest),
            )
            return int(conn.execute(query).rowcount)

    def _delete_blob(self, digest: str) -> int | None:
        """Delete the blob if it is still unused; its size, or None when it is in use again."""
        with self.db.write() as conn:
            size = blob_rows.lock(conn, digest)
            if size is None:
                return 0
            if conn.execute(select(_linked(digest) | _referenced_anywhere(digest))).scalar():
                return None
            self.driver.delete(keys.blob_key(Digest.parse(digest)))
            conn.execute(delete(blobs).where(blobs.c.digest == digest))
            return size

    def _delete_body(self, digest: str) -> int:
        with self.db.write() as conn:
            held = exists().where(manifests.c.digest == digest)
            return int(conn.execute(delete(manifest_bodies).where(manifest_bodies.c.digest == digest, ~held)).rowcount)


def _held(conn: Connection, needed: Mapping[tuple[str, str], str]) -> tuple[dict[str, str], set[tuple[str, str]]]:
    """What protected images hold: the digests of their manifest bodies, child manifests and
    blobs (each with why), and the (repository, blob) links. Their bodies say, even when the
    manifests are gone from the repository (the references went with them)."""
    kept: dict[str, str] = {}
    pairs: set[tuple[str, str]] = set()
    pending = list(needed.items())
    while pending:
        (repository, digest), why = pending.pop()
        if digest in kept and (repository, digest) in pairs:
            continue
        kept.setdefault(digest, why)
        pairs.add((repository, digest))
        row = conn.execute(select(manifest_bodies).where(manifest_bodies.c.digest == digest)).first()
        if row is None:
            continue
        try:
            parsed = manifest_format.parse(row.body, row.media_type)
        except ManifestInvalid:
            continue  # stored bodies were valid when pushed; a newer parser's refusal keeps nothing more
        for blob in parsed.blobs:
            kept.setdefault(blob.digest, why)
            pairs.add((repository, blob.digest))
        pending += [((repository, child.digest), why) for child in parsed.children]
    return kept, pairs
