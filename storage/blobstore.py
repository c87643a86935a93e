"""Reading and unlinking blobs that a repository holds."""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import Connection

from . import keys
from .digest import Digest
from .drivers.base import Driver
from .errors import BlobUnknown
from .metadata import blobs as blob_rows
from .metadata import repositories
from .metadata.engine import Database


@dataclass(frozen=True, slots=True)
class BlobLocation:
    digest: Digest
    size: int
    key: str


class BlobStore:
    def __init__(self, db: Database, driver: Driver, grace_seconds: float = 3600.0) -> None:
        self.db = db
        self.driver = driver
        self.grace = grace_seconds  # [gc] grace: how long a link keeps an unused blob

    def locate(self, repository: str, digest: Digest) -> BlobLocation:
        """Where the blob's bytes are, if the repository holds it; else BlobUnknown."""
        with self.db.read() as conn:
            size = blob_rows.linked_size(conn, repository, str(digest))
        if size is None:
            raise BlobUnknown(f"blob {digest} unknown to repository {repository}", {"digest": str(digest)})
        return BlobLocation(digest, size, keys.blob_key(digest))

    def hold(self, repository: str, digest: Digest) -> BlobLocation:
        """`locate` for a client that checks the blob exists before a manifest refers to it (a
        HEAD during a push): the link is the lease the collector honours, so one older than half
        the grace period is refreshed, and the blob is then kept at least that long whatever
        manifests do meanwhile. Younger links (every push that just uploaded) cost no write."""
        return self.held(repository, digest) or self.renew(repository, digest)

    def held(self, repository: str, digest: Digest) -> BlobLocation | None:
        """The part of `hold` that only reads: None when the link must be refreshed."""
        with self.db.read() as conn:
            found = blob_rows.link_time(conn, repository, str(digest))
        if found is None:
            raise BlobUnknown(f"blob {digest} unknown to repository {repository}", {"digest": str(digest)})
        if self.grace and time.time() - found[1] >= self.grace / 2:
            return None
        return BlobLocation(digest, found[0], keys.blob_key(digest))

    def renew(self, repository: str, digest: Digest) -> BlobLocation:
        """Refresh the link (the part of `hold` that writes)."""

        def refresh(conn: Connection) -> int | None:
            # Under the blob row's lock, as the collector drops links: either it dropped this one
            # first (the blob is unknown now) or it sees the refreshed time.
            size = blob_rows.linked_size(conn, repository, str(digest), lock=True)
            if size is not None:
                blob_rows.touch(conn, repository, str(digest))
            return size

        size = self.db.write_shared(refresh, durable=False)
        if size is None:
            raise BlobUnknown(f"blob {digest} unknown to repository {repository}", {"digest": str(digest)})
        return BlobLocation(digest, size, keys.blob_key(digest))

    def unlink(self, repository: str, digest: Digest) -> None:
        """Remove the blob from the repository, as the client asks (the OCI spec lets it, even
        for a blob a manifest uses). The bytes stay until garbage collection finds them unused."""
        with self.db.write() as conn:
            repository_id = repositories.find(conn, repository, lock=True)
            if repository_id is None or not blob_rows.unlink(conn, repository_id, str(digest)):
                raise BlobUnknown(f"blob {digest} unknown to repository {repository}", {"digest": str(digest)})
