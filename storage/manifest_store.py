"""Manifests, tags, referrers and the catalog: every change is one transaction that also
writes its event to the outbox."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Connection

from . import event_kinds, manifest_format, tag_mutability
from .digest import Digest
from .errors import (
    DigestMismatch,
    ImageAlreadyExists,
    ManifestBlobUnknown,
    ManifestChildUnknown,
    ManifestInvalid,
    ManifestUnknown,
    TagImmutable,
)
from .images import ImageRef
from .manifest_format import ParsedManifest
from .metadata import blobs as blob_rows
from .metadata import browse, events, repositories
from .metadata import manifests as manifest_rows
from .metadata import tags as tag_rows
from .metadata.browse import TagMove
from .metadata.engine import Database
from .metadata.manifests import ManifestRow

Reference = str | Digest  # a tag or a digest
NOT_FOUND, MISMATCH, REFERENCED = "not-found", "tag-digest-mismatch", "referenced-by-index"
CATALOG_BATCH = 500  # names read per query while filtering the catalog


@dataclass(frozen=True, slots=True)
class StoredManifest:
    digest: str
    media_type: str
    size: int


@dataclass(frozen=True, slots=True)
class PutResult:
    digest: Digest
    subject: str | None
    changed: bool  # the manifest is new to the repository, or a tag moved to it


@dataclass(frozen=True, slots=True)
class Deletion:
    ref: ImageRef
    digest: str | None  # the image the reference resolved to, when it was deleted
    failure: str | None  # NOT_FOUND, MISMATCH or REFERENCED


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
    def __init__(
        self,
        db: Database,
        require_index_children: bool = True,
        cache_bytes: int = 64 << 20,
        create_on_push: bool = True,
        require_layers: bool = True,
    ) -> None:
        self.db = db
        self.require_index_children = require_index_children
        # False accepts sparse image manifests, whose layers were not pushed (a mirror that
        # copies some platforms, or some layers); the config must still be there.
        self.require_layers = require_layers
        self.create_on_push = create_on_push
        self.cache = BodyCache(cache_bytes)

    # -- writes -----------------------------------------------------------------------------
    def put(
        self,
        repository: str,
        reference: Reference,
        raw: bytes,
        content_type: str | None,
        tags: list[str],
        require_change: bool = False,
    ) -> PutResult:
        """Store a manifest and point `tags` (plus `reference` if it is a tag) at it. With
        require_change, a push that changes nothing raises ImageAlreadyExists (as ECR's PutImage)."""
        algorithm = reference.algorithm if isinstance(reference, Digest) else "sha256"
        digest = Digest.of(raw, algorithm)
        if isinstance(reference, Digest) and digest != reference:
            raise DigestMismatch(f"manifest digest is {digest}, not {reference}", {"digest": str(digest)})
        parsed = manifest_format.parse(raw, content_type)
        all_tags = sorted(set(tags + ([reference] if isinstance(reference, str) else [])))

        def store(conn: Connection) -> bool:
            repository_id = repositories.for_push(conn, repository, self.create_on_push, lock=True)
            self._check_references(conn, repository_id, parsed)
            current = {tag: tag_rows.current(conn, repository_id, tag) for tag in all_tags}
            self._check_mutability(conn, repository, repository_id, current, str(digest))
            created = manifest_rows.store(conn, repository_id, str(digest), raw, parsed)
            moved = {tag: tag_rows.put(conn, repository_id, tag, str(digest), current[tag]) for tag in all_tags}
            changed = created or any(previous != str(digest) for previous in moved.values())
            if require_change and not changed:
                raise ImageAlreadyExists(f"image {digest} with tags {all_tags} is already in {repository}")
            events.enqueue(conn, event_kinds.IMAGE_PUSHED, repository, _pushed(digest, raw, parsed, all_tags))
            for tag, previous in moved.items():
                if previous is not None and previous != str(digest):
                    move = event_kinds.TagMoved(tag, str(digest), previous)
                    events.enqueue(conn, event_kinds.TAG_MOVED, repository, move)
            return changed

        changed = self.db.write_shared(store)
        self.cache.put(str(digest), raw)
        return PutResult(digest, parsed.subject.digest if parsed.subject else None, changed)

    @staticmethod
    def _check_mutability(
        conn: Connection, repository: str, repository_id: int, current: dict[str, str | None], digest: str
    ) -> None:
        """`current`: where each tag points now (locked). Settings are read only when a tag moves."""
        moving = {tag: previous for tag, previous in current.items() if previous is not None and previous != digest}
        if not moving:
            return
        settings = repositories.settings_of(conn, repository_id)
        for tag, previous in moving.items():
            if tag_mutability.is_immutable(settings, tag):
                raise TagImmutable(
                    f"tag {tag} already exists in repository {repository} and cannot be overwritten because "
                    f"it is immutable ({settings.tag_mutability}); push the image under a new tag",
                    {"tag": tag, "digest": previous},
                )

    def _check_references(self, conn: Connection, repository_id: int, parsed: ParsedManifest) -> None:
        sizes = blob_rows.linked_sizes(conn, repository_id, [d.digest for d in parsed.blobs])
        config = parsed.config.digest if parsed.config else None
        required = [d for d in parsed.blobs if self.require_layers or d.digest == config]
        missing = [d.digest for d in required if d.digest not in sizes]
        wrong = [d.digest for d in parsed.blobs if d.digest in sizes and sizes[d.digest] != d.size]
        unknown_class = ManifestBlobUnknown if missing else ManifestChildUnknown
        if self.require_index_children and parsed.children:
            present = manifest_rows.present(conn, repository_id, [d.digest for d in parsed.children])
            missing += [d.digest for d in parsed.children if d.digest not in present]
        if missing:
            raise unknown_class(
                f"manifest references {len(missing)} unknown blob(s) or manifest(s), first {missing[0]}",
                {"digests": missing[:50]},
            )
        if wrong:
            raise ManifestInvalid(f"descriptor size does not match blob {wrong[0]}", {"digests": wrong[:50]})

    def move_tag(self, repository: str, tag: str, digest: str, reason: str) -> str:
        """Point an existing tag at another image of the repository (see move_tag)."""
        with self.db.write() as conn:
            return move_tag(conn, repository, tag, digest, reason)

    def tag_history(self, repository: str, tag: str, limit: int = 100) -> list[TagMove]:
        """The tag's moves, newest first."""
        with self.db.read() as conn:
            return browse.tag_moves(conn, repositories.require(conn, repository), None, limit, [tag])

    def delete(self, repository: str, reference: Reference) -> None:
        with self.db.write() as conn:
            repository_id = repositories.find(conn, repository, lock=True)
            if repository_id is None:
                raise ManifestUnknown(f"manifest {reference} unknown to {repository}")
            if isinstance(reference, str):
                self._untag(conn, repository, repository_id, reference)
            else:
                delete_manifest(conn, repository, repository_id, str(reference))

    @staticmethod
    def _untag(conn: Connection, repository: str, repository_id: int, tag: str) -> None:
        previous = tag_rows.remove(conn, repository_id, tag)
        if previous is None:
            raise ManifestUnknown(f"tag {tag} unknown to {repository}")
        events.enqueue(conn, event_kinds.TAG_DELETED, repository, event_kinds.TagDeleted(tag, previous))

    def delete_images(self, repository: str, refs: list[ImageRef]) -> list[Deletion]:
        """Remove images by tag or digest, in one transaction. Removing an image's last tag removes
        the image (unless an index of the repository lists it), as ECR's BatchDeleteImage does."""
        with self.db.write() as conn:
            repository_id = repositories.require(conn, repository)
            return [self._delete_image(conn, repository, repository_id, ref) for ref in refs]

    def _delete_image(self, conn: Connection, repository: str, repository_id: int, ref: ImageRef) -> Deletion:
        digest = tag_rows.current(conn, repository_id, ref.tag) if ref.tag else ref.digest
        if digest is None or not manifest_rows.present(conn, repository_id, [digest]):
            return Deletion(ref, None, NOT_FOUND)
        if ref.tag and ref.digest and digest != ref.digest:
            return Deletion(ref, None, MISMATCH)
        listed = bool(manifest_rows.referencing(conn, repository_id, digest))
        if ref.tag:
            self._untag(conn, repository, repository_id, ref.tag)
            if not tag_rows.pointing_to(conn, repository_id, digest) and not listed:
                delete_manifest(conn, repository, repository_id, digest)
            return Deletion(ref, digest, None)
        if listed:
            return Deletion(ref, None, REFERENCED)
        delete_manifest(conn, repository, repository_id, digest)
        return Deletion(ref, digest, None)

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
            repository_id = repositories.require(conn, repository)
            found = tag_rows.page(conn, repository_id, after, limit + 1)
        return Page(found[:limit], len(found) > limit)

    def catalog(
        self, after: str, limit: int, visible: Callable[[str], bool] = lambda _: True, contains: str = ""
    ) -> Page:
        """Repository names after `after`, only those `visible` accepts (the caller's permissions)
        and, with `contains`, only those with that text in them."""
        batch = max(limit + 1, CATALOG_BATCH)
        found: list[str] = []
        with self.db.read() as conn:
            while len(found) <= limit:
                names = repositories.names(conn, after, batch, contains)
                found += [name for name in names if visible(name)]
                if len(names) < batch:
                    break
                after = names[-1]
        return Page(found[:limit], len(found) > limit)

    def referrers(
        self, repository: str, subject: Digest, artifact_type: str | None, after: str, limit: int
    ) -> tuple[list[ManifestRow], bool]:
        with self.db.read() as conn:
            found = manifest_rows.referrers(conn, repository, str(subject), artifact_type, after, limit + 1)
        return found[:limit], len(found) > limit


def move_tag(conn: Connection, repository: str, tag: str, digest: str, reason: str) -> str:
    """Point an existing tag at another image of the repository, inside the caller's write
    transaction (a revert: `cais tag revert`, or a deploy rule after a rollback). The image must
    be in the repository and the tag's mutability allow the move, as for a push; the move goes
    into the tag's history with `reason` and becomes a tag.moved event (not image.pushed: nothing
    was pushed, so deploy rules do not fire). Returns where the tag pointed before."""
    repository_id = repositories.find(conn, repository, lock=True)
    if repository_id is None:
        raise repositories.unknown(repository)
    if not manifest_rows.present(conn, repository_id, [digest]):
        raise ManifestUnknown(f"manifest {digest} unknown to {repository}", {"digest": digest})
    previous = tag_rows.current(conn, repository_id, tag)
    if previous is None:
        raise ManifestUnknown(f"tag {tag} unknown to {repository}", {"tag": tag})
    if previous != digest:
        ManifestStore._check_mutability(conn, repository, repository_id, {tag: previous}, digest)
        tag_rows.put(conn, repository_id, tag, digest, previous, reason)
        events.enqueue(conn, event_kinds.TAG_MOVED, repository, event_kinds.TagMoved(tag, digest, previous, reason))
    return previous


def delete_manifest(
    conn: Connection,
    repository: str,
    repository_id: int,
    digest: str,
    rule: int | None = None,
    reason: str | None = None,
) -> list[str]:
    """Remove a manifest and the tags pointing at it (inside the caller's write transaction);
    returns those tags. `rule` and `reason`: the lifecycle rule that expired it, if one did."""
    tags = tag_rows.pointing_to(conn, repository_id, digest)
    for tag in tags:
        tag_rows.remove(conn, repository_id, tag)
    if not manifest_rows.remove(conn, repository_id, digest):
        raise ManifestUnknown(f"manifest {digest} unknown to {repository}")
    deleted = event_kinds.ImageDeleted(digest, tags, rule, reason)
    events.enqueue(conn, event_kinds.IMAGE_DELETED, repository, deleted)
    return tags


def _pushed(digest: Digest, raw: bytes, parsed: ParsedManifest, tags: list[str]) -> event_kinds.ImagePushed:
    platforms = None
    if parsed.is_index:
        platforms = [{"digest": child.digest, **_platform(child.platform)} for child in parsed.children]
    return event_kinds.ImagePushed(
        digest=str(digest),
        media_type=parsed.media_type,
        size=len(raw),
        tags=tags,
        artifact_type=parsed.descriptor_artifact_type,
        subject=parsed.subject.digest if parsed.subject else None,
        platforms=platforms,
    )


def _platform(platform: dict[str, object] | None) -> dict[str, str]:
    fields = ("os", "architecture", "variant")
    return {key: str(platform[key]) for key in fields if platform and platform.get(key)}
