"""Comparing the metadata with what the storage backend holds, and repairing on request.

Findings:
- orphans: blob bytes without a blob row (a crash between publishing an upload's bytes and
  committing its row, or a push whose session another request took meanwhile);
- missing: blob rows whose bytes are gone (disk loss, a crash inside a collection);
- drift: bytes whose size differs from the row's;
- unlinked: blobs a manifest refers to that its repository no longer links (pulls miss them);
- broken images: manifests whose blobs are missing, drifted or unlinked, each named with its
  tags, since pulling them fails;
- stale uploads: upload bytes whose session row is gone.

Repairs take the same row lock as uploads and the collector, so they are safe while the
registry serves. What no manifest refers to is removed as before: orphan bytes still rowless
under the lock, the row and links of missing or wrong bytes. What a manifest refers to is
never deleted: orphan bytes that hash to their digest get their row and links back, bytes
that do not are moved to quarantine/ (see storage.keys), as are drifted bytes that do not
hash to their digest; drifted bytes that do keep their row, with its size corrected;
unlinked blobs are linked again. An image whose blob is gone stays broken (and reported)
until the blob is pushed again: nothing else can bring its bytes back.
"""

from __future__ import annotations

import contextlib
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from sqlalchemy import delete, select, update

from . import keys
from .digest import Digest
from .drivers.base import Driver, NotFound
from .hashing import Hasher
from .metadata import blobs as blob_rows
from .metadata import manifests as manifest_rows
from .metadata import tags as tag_rows
from .metadata import uploads as upload_rows
from .metadata.engine import Database
from .metadata.manifests import BlobReference
from .metadata.schema import blobs, repository_blobs

Progress = Callable[[int], object]
PAGE = 1000


@dataclass(frozen=True, slots=True)
class BrokenImage:
    repository: str
    digest: str
    tags: list[str]
    blobs: list[str]  # the blobs it lacks (missing, drifted or unlinked)


@dataclass
class Report:
    orphans: list[str] = field(default_factory=list)  # blob keys
    missing: list[str] = field(default_factory=list)  # digests
    drift: list[tuple[str, int, int]] = field(default_factory=list)  # digest, recorded size, stored size
    unlinked: list[BlobReference] = field(default_factory=list)
    broken: list[BrokenImage] = field(default_factory=list)
    stale_uploads: list[str] = field(default_factory=list)  # keys under uploads/
    references: list[BlobReference] = field(default_factory=list, repr=False)

    @property
    def clean(self) -> bool:
        return not (self.orphans or self.missing or self.drift or self.unlinked or self.broken or self.stale_uploads)

    def referenced(self, digest: str) -> list[BlobReference]:
        return [reference for reference in self.references if reference.blob == digest]


def _keys(driver: Driver, prefix: str) -> Iterator[str]:
    after = ""
    while True:
        page = driver.list(prefix, after, PAGE)
        yield from page
        if len(page) < PAGE:
            return
        after = page[-1]


class Fsck:
    def __init__(self, db: Database, driver: Driver, require_layers: bool = True) -> None:
        self.db = db
        self.driver = driver
        self.require_layers = require_layers  # False: sparse image manifests need only their config

    def blob_count(self) -> int:
        with self.db.read() as conn:
            return len(conn.execute(select(blobs.c.digest)).all())

    def check(self, progress: Progress | None = None) -> Report:
        tick = progress or (lambda _: None)
        report = Report()
        with self.db.read() as conn:
            recorded = {row.digest: row.size for row in conn.execute(select(blobs.c.digest, blobs.c.size))}
            report.references = manifest_rows.blob_references(conn, configs_only=not self.require_layers)
        seen = set()
        for key in _keys(self.driver, keys.BLOBS):
            digest = keys.digest_from_blob_key(key)
            if digest is None:
                continue
            seen.add(str(digest))
            if str(digest) not in recorded:
                report.orphans.append(key)
            else:
                stored = self.driver.stat(key).size
                if stored != recorded[str(digest)]:
                    report.drift.append((str(digest), recorded[str(digest)], stored))
                tick(1)
        report.missing = sorted(set(recorded) - seen)
        tick(len(report.missing))
        present = set(recorded) & seen
        report.unlinked = [r for r in report.references if not r.linked and r.blob in present]
        drifted = {digest for digest, _, _ in report.drift}
        lacking = set(report.missing) | drifted | ({r.blob for r in report.references} - present)
        report.broken = self._broken(report.references, lacking, {(r.repository_id, r.blob) for r in report.unlinked})
        for key in _keys(self.driver, keys.UPLOADS):
            upload_id = keys.upload_of(key)
            with self.db.read() as conn:
                if upload_id is None or upload_rows.get(conn, upload_id) is None:
                    report.stale_uploads.append(key)
        return report

    def _broken(
        self, references: list[BlobReference], lacking: set[str], unlinked: set[tuple[int, str]]
    ) -> list[BrokenImage]:
        """The images that lack a blob, with their tags."""
        wanting: dict[tuple[int, str, str], list[str]] = defaultdict(list)
        for reference in references:
            if reference.blob in lacking or (reference.repository_id, reference.blob) in unlinked:
                wanting[(reference.repository_id, reference.repository, reference.manifest)].append(reference.blob)
        with self.db.read() as conn:
            return [
                BrokenImage(repository, manifest, tag_rows.pointing_to(conn, repository_id, manifest), missing)
                for (repository_id, repository, manifest), missing in wanting.items()
            ]

    def repair(self, report: Report) -> None:
        for key in report.orphans:
            orphan = keys.digest_from_blob_key(key)
            assert orphan is not None
            self._repair_orphan(key, orphan, report.referenced(str(orphan)))
        for digest, _, _ in report.drift:
            if not self._rehash_matches(digest):
                self._forget(digest, quarantine=bool(report.referenced(digest)))
        for digest in report.missing:
            self._forget(digest, quarantine=False)
        for reference in report.unlinked:
            self._relink(reference)
        for key in report.stale_uploads:
            upload_id = keys.upload_of(key)
            with self.db.write() as conn:
                if upload_id is None or upload_rows.get(conn, upload_id) is None:
                    self.driver.delete(key)

    def _repair_orphan(self, key: str, digest: Digest, referenced: list[BlobReference]) -> None:
        """Bytes without a row: deleted if nothing refers to them; else given their row and
        links back if they hash to their digest, and quarantined if they do not."""
        size = self._verified_size(digest) if referenced else None
        with self.db.write() as conn:
            if blob_rows.lock(conn, str(digest)) is not None:
                return  # recorded meanwhile
            if not referenced:
                self.driver.delete(key)
            elif size is None:
                self.driver.move(key, keys.quarantine_key(digest, time.time()))
            else:
                blob_rows.record(conn, str(digest), size)
                for repository_id in {reference.repository_id for reference in referenced}:
                    blob_rows.link(conn, repository_id, str(digest))

    def _verified_size(self, digest: Digest) -> int | None:
        """The size of the blob's bytes if they hash to its digest, else None."""
        hasher, size = Hasher(digest.algorithm), 0
        try:
            for block in self.driver.read(keys.blob_key(digest)):
                hasher.update(block)
                size += len(block)
        except NotFound:
            return None
        return size if hasher.hexdigest() == digest.hex else None

    def _rehash_matches(self, digest: str) -> bool:
        size = self._verified_size(Digest.parse(digest))
        if size is None:
            return False
        with self.db.write() as conn:
            conn.execute(update(blobs).where(blobs.c.digest == digest).values(size=size))
        return True

    def _relink(self, reference: BlobReference) -> None:
        with self.db.write() as conn:
            if blob_rows.lock(conn, reference.blob) is not None:
                blob_rows.link(conn, reference.repository_id, reference.blob)

    def _forget(self, digest: str, quarantine: bool) -> None:
        """The bytes are lost or wrong: drop the links and the row, so that clients see the blob
        as absent and upload it again; wrong bytes a manifest refers to are moved to quarantine
        rather than deleted."""
        parsed = Digest.parse(digest)
        with self.db.write() as conn:
            blob_rows.lock(conn, digest)
            if quarantine:
                with contextlib.suppress(NotFound):  # gone meanwhile: nothing left to keep
                    self.driver.move(keys.blob_key(parsed), keys.quarantine_key(parsed, time.time()))
            else:
                self.driver.delete(keys.blob_key(parsed))
            conn.execute(delete(repository_blobs).where(repository_blobs.c.digest == digest))
            conn.execute(delete(blobs).where(blobs.c.digest == digest))
