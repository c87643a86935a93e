"""The stores the HTTP layer uses, opened once per process from the settings."""

from __future__ import annotations

from dataclasses import dataclass

from storage.accounts import AccountStore
from storage.blobstore import BlobStore
from storage.drivers import open_driver
from storage.drivers.base import Driver
from storage.gc import Collector
from storage.images import ImageStore
from storage.lifecycle.runner import Lifecycle
from storage.manifest_store import ManifestStore
from storage.metadata.engine import Database
from storage.permission_store import PermissionStore
from storage.pulls import PullRecorder
from storage.repository_store import RepositoryStore
from storage.uploads import UploadPolicy, Uploads

from .auth.authority import Authority, open_authority
from .auth.gate import Guard
from .config import Settings


@dataclass
class Services:
    settings: Settings
    db: Database
    driver: Driver
    blobs: BlobStore
    uploads: Uploads
    manifests: ManifestStore
    repositories: RepositoryStore
    images: ImageStore
    pulls: PullRecorder
    lifecycle: Lifecycle
    collector: Collector
    accounts: AccountStore
    permissions: PermissionStore
    guard: Guard
    authority: Authority | None

    def close(self) -> None:
        self.db.dispose()


def open_services(settings: Settings) -> Services:
    db = Database(settings.metadata_url)
    driver = open_driver(settings.storage.driver, root=settings.blob_root)
    policy = UploadPolicy(
        lease_seconds=settings.uploads.lease,
        checkpoint_bytes=settings.uploads.checkpoint_bytes,
        checkpoint_seconds=settings.uploads.checkpoint_interval,
    )
    create_on_push = settings.repositories.create_on_push
    authority = open_authority(settings, db) if settings.auth.enabled else None
    return Services(
        settings=settings,
        db=db,
        driver=driver,
        blobs=BlobStore(db, driver),
        uploads=Uploads(db, driver, policy, create_on_push=create_on_push),
        manifests=ManifestStore(
            db,
            require_index_children=settings.manifests.require_index_children,
            cache_bytes=settings.manifests.cache_bytes,
            create_on_push=create_on_push,
        ),
        repositories=RepositoryStore(db),
        images=ImageStore(db),
        pulls=PullRecorder(db),
        lifecycle=Lifecycle(db),
        collector=Collector(db, driver, settings.gc.grace),
        accounts=AccountStore(db),
        permissions=PermissionStore(db),
        guard=Guard(authority),
        authority=authority,
    )
