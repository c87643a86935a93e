"""Comparing the metadata with what the storage backend holds, and repairing on request.

Findings:
- orphans: blob bytes without a blob row (a crash between publishing an upload's bytes and
  committing its row, or a push whose session another request took meanwhile);
- missing: blob rows whose bytes are gone (disk loss, a crash inside a collection);
- drift: bytes whose size differs from the row's;
- stale uploads: upload bytes whose session row is gone.

Repairs take the same row lock as uploads and the collector, so they are safe while the
registry serves: orphan bytes are deleted only if still rowless under the lock; a missing
blob loses its links and row (clients see it absent and upload it again); drifted bytes are
rehashed: kept with the row corrected if they match their digest, else handled as missing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from sqlalchemy import delete, select, update

from . import keys
from .digest import Digest
from .drivers.base import Driver, NotFound
from .hashing import Hasher
from .metadata import blobs as blob_rows
from .metadata import uploads as upload_rows
from .metadata.engine import Database
from .metadata.schema import blobs, repository_blobs

Progress = Callable[[int], object]
PAGE = 1000


@dataclass
class Report:
    orphans: list[str] = field(default_factory=list)  # blob keys
    missing: list[str] = field(default_factory=list)  # digests
    drift: list[tuple[str, int, int]] = field(default_factory=list)  # digest, recorded size, stored size
    stale_uploads: list[str] = field(default_factory=list)  # keys under uploads/

    @property
    def clean(self) -> bool:
        return not (self.orphans or self.missing or self.drift or self.stale_uploads)


def _keys(driver: Driver, prefix: str) -> Iterator[str]:
    after = ""
    while True:
        page = driver.list(prefix, after, PAGE)
        yield from page
        if len(page) < PAGE:
            return
        after = page[-1]


class Fsck:
    def __init__(self, db: Database, driver: Driver) -> None:
        self.db = db
        self.driver = driver

    def blob_count(self) -> int:
        with self.db.read() as conn:
            return len(conn.execute(select(blobs.c.digest)).all())

    def check(self, progress: Progress | None = None) -> Report:
        tick = progress or (lambda _: None)
        report = Report()
        with self.db.read() as conn:
            recorded = {row.digest: row.size for row in conn.execute(select(blobs.c.digest, blobs.c.size))}
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
        for key in _keys(self.driver, keys.UPLOADS):
            upload_id = keys.upload_of(key)
            with self.db.read() as conn:
                if upload_id is None or upload_rows.get(conn, upload_id) is None:
                    report.stale_uploads.append(key)
        return report

    def repair(self, report: Report) -> None:
        for key in report.orphans:
            self._remove_orphan(key)
        for digest, _, _ in report.drift:
            if not self._rehash_matches(digest):
                self._forget(digest)
        for digest in report.missing:
            self._forget(digest)
        for key in report.stale_uploads:
            upload_id = keys.upload_of(key)
            with self.db.write() as conn:
                if upload_id is None or upload_rows.get(conn, upload_id) is None:
                    self.driver.delete(key)

    def _remove_orphan(self, key: str) -> None:
        digest = keys.digest_from_blob_key(key)
        assert digest is not None
        with self.db.write() as conn:
            if blob_rows.lock(conn, str(digest)) is None:
                self.driver.delete(key)

    def _rehash_matches(self, digest: str) -> bool:
        parsed = Digest.parse(digest)
        key = keys.blob_key(parsed)
        hasher, size = Hasher(parsed.algorithm), 0
        try:
            for block in self.driver.read(key):
                hasher.update(block)
                size += len(block)
        except NotFound:
            return False
        if hasher.hexdigest() != parsed.hex:
            return False
        with self.db.write() as conn:
            conn.execute(update(blobs).where(blobs.c.digest == digest).values(size=size))
        return True

    def _forget(self, digest: str) -> None:
        """The bytes are lost or wrong: drop them, the links and the row, so that clients see the
        blob as absent and upload it again."""
        with self.db.write() as conn:
            blob_rows.lock(conn, digest)
            self.driver.delete(keys.blob_key(Digest.parse(digest)))
            conn.execute(delete(repository_blobs).where(repository_blobs.c.digest == digest))
            conn.execute(delete(blobs).where(blobs.c.digest == digest))
