"""Reading and unlinking blobs that a repository holds."""

from __future__ import annotations

from dataclasses import dataclass

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
    def __init__(self, db: Database, driver: Driver) -> None:
        self.db = db
        self.driver = driver

    def locate(self, repository: str, digest: Digest) -> BlobLocation:
        """Where the blob's bytes are, if the repository holds it; else BlobUnknown."""
        with self.db.read() as conn:
            size = blob_rows.linked_size(conn, repository, str(digest))
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
