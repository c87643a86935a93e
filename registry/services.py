"""The stores the HTTP layer uses, opened once per process from the settings."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING

from deployer import retention
from deployer.arns import Arns
from deployer.host import this_host
from deployer.options import Options
from deployer.store import DeployerStore
from hooks.backoff import Backoff
from hooks.deploy.rules import DeployRules
from hooks.deploy.runs import Deploys
from hooks.dispatch import DeliverySettings, Dispatcher
from hooks.formats import Origin
from hooks.scan.layers import Limits
from hooks.scan.on_push import subscriber as scan_on_push
from hooks.scan.scanner import Scanner
from hooks.scan.worker import ScanWorker
from hooks.signing import Keyring
from hooks.subscribers import Subscriber
from hooks.webhooks import Webhooks
from storage.accounts import AccountStore
from storage.blobstore import BlobStore
from storage.drivers import open_driver
from storage.drivers.base import Driver
from storage.drivers.s3_options import S3Options
from storage.gc import Collector
from storage.images import ImageStore
from storage.lifecycle.runner import Lifecycle
from storage.manifest_store import ManifestStore
from storage.metadata.engine import Database
from storage.permission_store import PermissionStore
from storage.pulls import PullRecorder
from storage.repository_store import RepositoryStore
from storage.threads import Threads
from storage.uploads import UploadPolicy, Uploads

from .auth.gate import Guard
from .config import Settings

if TYPE_CHECKING:
    from .auth.authority import Authority


@dataclass
class Services:
    settings: Settings
    threads: Threads
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
    scans: ScanWorker
    deployer: DeployerStore
    webhooks: Webhooks
    deploy_rules: DeployRules
    deploys: Deploys
    # The in-process consumers of events (hooks/subscribers.py): each area adds its own here.
    subscribers: list[Subscriber] = field(default_factory=list)

    def dispatcher(self) -> Dispatcher:
        hooks = self.webhooks
        return Dispatcher(self.db, self.threads, hooks.settings, hooks.origin, hooks.keyring, self.subscribers)

    def close(self) -> None:
        self.db.dispose()

    async def aclose(self) -> None:
        """In a server, after the last request: blocking calls still running end before the
        database closes."""
        await self.threads.close()
        self.close()


def s3_options(settings: Settings) -> S3Options:
    storage = settings.storage
    return S3Options(
        bucket=storage.bucket or "",
        prefix=storage.prefix,
        region=storage.region,
        endpoint_url=storage.endpoint_url,
        public_endpoint_url=storage.public_endpoint_url,
        path_style=storage.path_style,
        access_key=storage.access_key,
        secret_key=storage.secret_key,
        sse=storage.sse,
        sse_kms_key_id=storage.sse_kms_key_id,
        storage_class=storage.storage_class,
        redirect=storage.redirect,
        max_attempts=storage.max_attempts,
        timeout_seconds=storage.timeout,
    )


def open_driver_from(settings: Settings) -> Driver:
    if settings.storage.driver == "s3":
        return open_driver("s3", s3=s3_options(settings))
    return open_driver(settings.storage.driver, root=settings.blob_root)


def _open_authority(settings: Settings, db: Database) -> Authority | None:
    if not settings.auth.enabled:
        return None
    # Imported only here: a registry without authentication never loads PyJWT, cryptography and
    # argon2 (see auth/outcomes).
    from .auth.authority import open_authority

    return open_authority(settings, db)


def deployer_options(settings: Settings) -> Options:
    deployer = settings.deployer
    low, _, high = deployer.ports.partition("-")
    hosts = [deployer.registry or settings.server.listen]
    if settings.auth.public_url:
        hosts.append(settings.auth.public_url.split("://", 1)[1])
    return Options(
        arns=Arns(settings.ecr.region, settings.ecr.account_id),
        data_dir=settings.data_dir,
        docker_host=deployer.docker_host,
        interval=deployer.interval,
        lease=deployer.lease,
        drain=deployer.drain,
        port_range=(int(low), int(high)),
        cpu=deployer.cpu,
        memory=deployer.memory,
        log_bytes=deployer.log_bytes,
        stopped_ttl=deployer.stopped_ttl,
        registry_hosts=tuple(hosts),
        engine_interval=deployer.engine_interval,
        rollback_targets=deployer.rollback_targets,
    )


def delivery_settings(settings: Settings) -> DeliverySettings:
    found = settings.events
    return DeliverySettings(
        backoff=Backoff(found.max_attempts, found.retry_base, found.retry_max),
        poll_interval=found.poll_interval,
        timeout=found.timeout,
        concurrency=found.concurrency,
        allow_link_local=found.allow_link_local,
    )


def origin(settings: Settings) -> Origin:
    url = settings.auth.public_url or f"http://{settings.server.listen}"
    return Origin(url.rstrip("/"), uuid.uuid4().hex, settings.ecr.region, settings.ecr.account_id)


def open_services(settings: Settings) -> Services:
    db = Database(settings.metadata_url)
    driver = open_driver_from(settings)
    policy = UploadPolicy(
        lease_seconds=settings.uploads.lease,
        checkpoint_bytes=settings.uploads.checkpoint_bytes,
        checkpoint_seconds=settings.uploads.checkpoint_interval,
    )
    create_on_push = settings.repositories.create_on_push
    authority = _open_authority(settings, db)
    options = deployer_options(settings)
    threads = Threads()
    uploads = Uploads(
        db, driver, threads, policy, create_on_push=create_on_push, announce_blobs=settings.events.blob_uploads
    )
    manifests = ManifestStore(
        db,
        require_index_children=settings.manifests.require_index_children,
        require_layers=settings.manifests.require_layers,
        cache_bytes=settings.manifests.cache_bytes,
        create_on_push=create_on_push,
    )
    scans = _scan_worker(settings, db, driver, manifests, uploads)
    deploys = Deploys(db, options, scans.wake)
    return Services(
        settings=settings,
        threads=threads,
        db=db,
        driver=driver,
        blobs=BlobStore(db, driver, settings.gc.grace),
        uploads=uploads,
        manifests=manifests,
        repositories=RepositoryStore(db),
        images=ImageStore(db),
        pulls=PullRecorder(db),
        lifecycle=Lifecycle(db, partial(retention.in_use, db, options.rollback_targets)),
        collector=Collector(
            db,
            driver,
            settings.gc.grace,
            partial(retention.needed, db, options.rollback_targets),
        ),
        accounts=AccountStore(db),
        permissions=PermissionStore(db),
        guard=Guard(authority, threads),
        authority=authority,
        scans=scans,
        webhooks=Webhooks(db, threads, Keyring(settings.auth_key_dir), delivery_settings(settings), origin(settings)),
        deployer=DeployerStore(db, options, lambda: this_host(options.cpu, options.memory)),
        deploy_rules=DeployRules(db),
        deploys=deploys,
        subscribers=[scan_on_push(db, scans.wake), deploys.subscriber()],
    )


def _scan_worker(
    settings: Settings, db: Database, driver: Driver, manifests: ManifestStore, uploads: Uploads
) -> ScanWorker:
    scan = settings.scan
    limits = Limits(scan.max_layer_bytes, scan.max_layer_entries, scan.max_file_bytes)
    return ScanWorker(db, Scanner(db, driver, manifests, uploads, limits, scan.sbom), scan.lease)
