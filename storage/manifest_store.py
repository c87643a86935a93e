"""Manifests, tags, referrers and the catalog: every change is one transaction that also
writes its event to the outbox."""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

from sqlalchemy import Connection

from . import manifest_format
from .digest import Digest
from .errors import DigestMismatch, ManifestBlobUnknown, ManifestInvalid, ManifestUnknown, NameUnknown
from .manifest_format import ParsedManifest
from .metadata import blobs as blob_rows
from .metadata import events, repositories
from .metadata import manifests as manifest_rows
from .metadata import tags as tag_rows
from .metadata.engine import Database
from .metadata.manifests import ManifestRow

Reference = str | Digest  # a tag or a digest


@dataclass(frozen=True, slots=True)
class StoredManifest:
    digest: str
    media_type: str
    size: int


@dataclass(frozen=True, slots=True)
class PutResult:
    digest: Digest
    subject: str | None


@dataclass(frozen=True, slots=True)
class Page:
    items: list[str]
    more: bool


class BodyCache:
    """Manifest bodies by digest. Safe across processes and replicas: a digest's bytes never change."""

    def __init__(self, max_bytes: int) -> None:
        self._items: OrderedDict[str, bytes] = OrderedDict()
        self._held = 0
        self._max = max_bytes
        self._lock = threading.Lock()

    def get(self, digest: str) -> bytes | None:
        with self._lock:
            body = self._items.get(digest)
            if body is not None:
                self._items.move_to_end(digest)
            return body

    def put(self, digest: str, body: bytes) -> None:
        if len(body) > self._max // 4:
            return
        with self._lock:
            if digest in self._items:
                return
            self._items[digest] = body
            self._held += len(body)
            while self._held > self._max:
                _, old = self._items.popitem(last=False)
                self._held -= len(old)


class ManifestStore:
    def __init__(self, db: Database, require_index_children: bool = True, cache_bytes: int = 64 << 20) -> None:
        self.db = db
        self.require_index_children = require_index_children
        self.cache = BodyCache(cache_bytes)

    # -- writes -----------------------------------------------------------------------------
    def put(
        self, repository: str, reference: Reference, raw: bytes, content_type: str | None, tags: list[str]
    ) -> PutResult:
        """Store a manifest and point `tags` (plus `reference` if it is a tag) at it."""
        algorithm = reference.algorithm if isinstance(reference, Digest) else "sha256"
        digest = Digest.of(raw, algorithm)
        if isinstance(reference, Digest) and digest != reference:
            raise DigestMismatch(f"manifest digest is {digest}, not {reference}", {"digest": str(digest)})
        parsed = manifest_format.parse(raw, content_type)
        all_tags = sorted(set(tags + ([reference] if isinstance(reference, str) else [])))
        with self.db.write() as conn:
            repository_id = repositories.ensure(conn, repository, lock=True)
            self._check_references(conn, repository_id, parsed)
            manifest_rows.store(conn, repository_id, str(digest), raw, parsed)
            moved = {tag: tag_rows.put(conn, repository_id, tag, str(digest)) for tag in all_tags}
            events.enqueue(conn, "manifest.pushed", repository, _push_payload(digest, raw, parsed, moved))
        self.cache.put(str(digest), raw)
        return PutResult(digest, parsed.subject.digest if parsed.subject else None)

    def _check_references(self, conn: Connection, repository_id: int, parsed: ParsedManifest) -> None:
        sizes = blob_rows.linked_sizes(conn, repository_id, [d.digest for d in parsed.blobs])
        missing = [d.digest for d in parsed.blobs if d.digest not in sizes]
        wrong = [d.digest for d in parsed.blobs if d.digest in sizes and sizes[d.digest] != d.size]
        if self.require_index_children and parsed.children:
            present = manifest_rows.present(conn, repository_id, [d.digest for d in parsed.children])
            missing += [d.digest for d in parsed.children if d.digest not in present]
        if missing:
            raise ManifestBlobUnknown(
                f"manifest references {len(missing)} unknown blob(s) or manifest(s), first {missing[0]}",
                {"digests": missing[:50]},
            )
        if wrong:
            raise ManifestInvalid(f"descriptor size does not match blob {wrong[0]}", {"digests": wrong[:50]})

    def delete(self, repository: str, reference: Reference) -> None:
        with self.db.write() as conn:
            repository_id = repositories.find(conn, repository, lock=True)
            if repository_id is None:
                raise ManifestUnknown(f"manifest {reference} unknown to {repository}")
            if isinstance(reference, str):
                self._untag(conn, repository, repository_id, reference)
            else:
                self._delete_manifest(conn, repository, repository_id, str(reference))

    @staticmethod
    def _untag(conn: Connection, repository: str, repository_id: int, tag: str) -> None:
        previous = tag_rows.remove(conn, repository_id, tag)
        if previous is None:
            raise ManifestUnknown(f"tag {tag} unknown to {repository}")
        events.enqueue(conn, "tag.deleted", repository, {"tag": tag, "digest": previous})

    @staticmethod
    def _delete_manifest(conn: Connection, repository: str, repository_id: int, digest: str) -> None:
        tags = tag_rows.pointing_to(conn, repository_id, digest)
        for tag in tags:
            tag_rows.remove(conn, repository_id, tag)
        if not manifest_rows.remove(conn, repository_id, digest):
            raise ManifestUnknown(f"manifest {digest} unknown to {repository}")
        events.enqueue(conn, "manifest.deleted", repository, {"digest": digest, "tags": tags})

    # -- reads ------------------------------------------------------------------------------
    def resolve(self, repository: str, reference: Reference) -> StoredManifest:
        with self.db.read() as conn:
            if isinstance(reference, str):
                digest = tag_rows.resolve(conn, repository, reference)
                if digest is None:
                    raise ManifestUnknown(f"tag {reference} unknown to {repository}", {"tag": reference})
            else:
                digest = str(reference)
            row = manifest_rows.find(conn, repository, digest)
        if row is None:
            raise ManifestUnknown(f"manifest {digest} unknown to {repository}", {"digest": digest})
        return StoredManifest(row.digest, row.media_type, row.size)

    def body(self, digest: str) -> bytes:
        cached = self.cache.get(digest)
        if cached is not None:
            return cached
        with self.db.read() as conn:
            raw = manifest_rows.body(conn, digest)
        if raw is None:
            raise ManifestUnknown(f"manifest {digest} unknown")
        self.cache.put(digest, raw)
        return raw

    def tags(self, repository: str, after: str, limit: int) -> Page:
        with self.db.read() as conn:
            repository_id = repositories.find(conn, repository)
            if repository_id is None:
                raise NameUnknown(f"repository {repository} not known to registry", {"name": repository})
            found = tag_rows.page(conn, repository_id, after, limit + 1)
        return Page(found[:limit], len(found) > limit)

    def catalog(self, after: str, limit: int) -> Page:
        with self.db.read() as conn:
            found = repositories.names(conn, after, limit + 1)
        return Page(found[:limit], len(found) > limit)

    def referrers(
        self, repository: str, subject: Digest, artifact_type: str | None, after: str, limit: int
    ) -> tuple[list[ManifestRow], bool]:
        with self.db.read() as conn:
            found = manifest_rows.referrers(conn, repository, str(subject), artifact_type, after, limit + 1)
        return found[:limit], len(found) > limit


def _push_payload(
    digest: Digest, raw: bytes, parsed: ParsedManifest, moved: dict[str, str | None]
) -> dict[str, object]:
    return {
        "digest": str(digest),
        "mediaType": parsed.media_type,
        "artifactType": parsed.descriptor_artifact_type,
        "size": len(raw),
        "subject": parsed.subject.digest if parsed.subject else None,
        "tags": [{"tag": tag, "previous": previous} for tag, previous in moved.items()],
    }
