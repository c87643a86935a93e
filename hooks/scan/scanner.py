"""Scanning one image: its inventory (layer by layer, each layer's index read once and kept by
digest), matched against the advisory database, and the SBOM stored as a referrer.

An index is scanned platform by platform (attestation entries, whose platform is unknown, are
not images); its findings are those of its platforms' images, each marked with its platform.
A manifest that is not a container image (an artifact, a Helm chart, a signature) is
UNSUPPORTED_IMAGE, as ECR reports it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from storage import keys, manifest_format
from storage.digest import Digest
from storage.drivers.base import Driver, NotFound
from storage.errors import ManifestUnknown
from storage.manifest_format import Descriptor, ParsedManifest
from storage.manifest_store import ManifestStore
from storage.metadata import scans, vulndb
from storage.metadata.engine import Database
from storage.uploads import Uploads

from . import matching, sbom
from .inventory import Inventory, merge
from .layer_index import LayerIndex, read_layer
from .layers import LayerError, Limits

READER = 1  # the version of layer reading and parsing: indexes and inventories of older ones are made again
IMAGE_CONFIGS = ("application/vnd.oci.image.config.v1+json", "application/vnd.docker.container.image.v1+json")
LAYER_PREFIXES = (
    "application/vnd.oci.image.layer.v1.tar",
    "application/vnd.oci.image.layer.nondistributable.v1.tar",
    "application/vnd.docker.image.rootfs.diff.tar",
    "application/vnd.docker.image.rootfs.foreign.diff.tar",
)
COMPLETED = "The scan was completed successfully."
UNSUPPORTED = "UnsupportedImageError: The operating system and/or package manager are not supported."
KeepAlive = Callable[[], None]  # called often during a scan; raises to stop it (a lost lease)
Progress = Callable[[int], object]  # called with the layer bytes read since the last call


@dataclass(frozen=True, slots=True)
class Outcome:
    status: str
    description: str
    findings: list[dict[str, Any]] | None = None
    counts: dict[str, int] | None = None
    source_updated_at: float | None = None


@dataclass(frozen=True, slots=True)
class PlatformImage:
    platform: str | None  # os/architecture[/variant] of an index entry
    descriptor: Descriptor  # of the image manifest
    parsed: ParsedManifest


def is_image(parsed: ParsedManifest) -> bool:
    if parsed.is_index or parsed.config is None or parsed.artifact_type or not parsed.layers:
        return False
    return parsed.config.media_type in IMAGE_CONFIGS and all(
        layer.media_type.startswith(LAYER_PREFIXES) for layer in parsed.layers
    )


def _platform(descriptor: Descriptor) -> str | None:
    platform = descriptor.platform or {}
    parts = [platform.get("os"), platform.get("architecture"), platform.get("variant")]
    return "/".join(str(p) for p in parts if p) or None


class Scanner:
    def __init__(
        self, db: Database, driver: Driver, manifests: ManifestStore, uploads: Uploads, limits: Limits, store_sbom: bool
    ) -> None:
        self.db, self.driver, self.manifests, self.uploads = db, driver, manifests, uploads
        self.limits = limits
        self.store_sbom = store_sbom

    def images(self, repository: str, digest: str) -> list[PlatformImage]:
        """The container images a manifest stands for: itself, or its index's platforms."""
        stored = self.manifests.resolve(repository, Digest.parse(digest))
        parsed = manifest_format.parse(self.manifests.body(digest), stored.media_type)
        if not parsed.is_index:
            return (
                [PlatformImage(None, Descriptor(stored.media_type, digest, stored.size), parsed)]
                if is_image(parsed)
                else []
            )
        found = []
        for child in parsed.children:
            platform = _platform(child)
            if platform is None or platform.startswith("unknown") or child.media_type in manifest_format.INDEX_TYPES:
                continue
            try:
                body = self.manifests.body(child.digest)
            except ManifestUnknown:  # a sparse index: the platform's image was not pushed
                continue
            child_parsed = manifest_format.parse(body, child.media_type)
            if is_image(child_parsed):
                found.append(PlatformImage(platform, child, child_parsed))
        return found

    def scan(self, repository: str, digest: str, keepalive: KeepAlive, progress: Progress | None = None) -> Outcome:
        images = self.images(repository, digest)
        if not images:
            return Outcome(scans.UNSUPPORTED, UNSUPPORTED)
        findings: list[dict[str, Any]] = []
        try:
            inventories = [(image, self.inventory(image, keepalive, progress)) for image in images]
        except LayerError as exc:
            return Outcome(scans.FAILED, f"ScanFailed: {exc.reason}")
        with self.db.read() as conn:
            for image, inventory in inventories:
                findings += matching.match(conn, inventory, image.platform)
            updated = vulndb.updated_at(conn)
        if self.store_sbom:
            for image, inventory in inventories:
                self._store_sbom(repository, image.descriptor, inventory)
        findings = matching.order(findings)
        return Outcome(scans.COMPLETE, COMPLETED, findings, matching.counts(findings), updated)

    def inventory(self, image: PlatformImage, keepalive: KeepAlive, progress: Progress | None) -> Inventory:
        digest = image.descriptor.digest
        with self.db.read() as conn:
            cached = scans.cached(conn, "inventory", digest, READER)
        if cached is not None:
            return Inventory.from_json(json.loads(cached))
        layers = []
        for layer in image.parsed.layers:
            keepalive()
            if not layer.urls:  # foreign layers (Windows base images) live outside the registry
                layers.append((layer.digest, self._layer_index(layer, keepalive, progress)))
        inventory = merge(layers)
        with self.db.write(durable=False) as conn:
            scans.cache(conn, "inventory", digest, READER, json.dumps(inventory.to_json()))
        return inventory

    def _layer_index(self, layer: Descriptor, keepalive: KeepAlive, progress: Progress | None) -> LayerIndex:
        with self.db.read() as conn:
            cached = scans.cached(conn, "layer", layer.digest, READER)
        if cached is not None:
            if progress is not None:
                progress(layer.size)
            return LayerIndex.from_json(json.loads(cached))
        try:
            chunks = self.driver.read(keys.blob_key(Digest.parse(layer.digest)))
        except NotFound:
            raise LayerError(f"layer {layer.digest} is missing from storage") from None
        try:
            index = read_layer(_watched(chunks, keepalive, progress), self.limits)
        except LayerError as exc:
            raise LayerError(f"layer {layer.digest}: {exc.reason}") from None
        with self.db.write(durable=False) as conn:
            scans.cache(conn, "layer", layer.digest, READER, json.dumps(index.to_json()))
        return index

    def _store_sbom(self, repository: str, image: Descriptor, inventory: Inventory) -> None:
        # The image (or its repository) may have been deleted during the scan: a push of the SBOM
        # would then bring the repository back.
        self.manifests.resolve(repository, Digest.parse(image.digest))
        document = sbom.cyclonedx(image.digest, inventory)
        document_digest = self.uploads.put_blob(repository, document)
        empty_digest = self.uploads.put_blob(repository, sbom.EMPTY)
        raw = sbom.referrer(
            sbom.descriptor(image.media_type, image.digest, image.size),
            sbom.descriptor(sbom.MEDIA_TYPE, str(document_digest), len(document)),
            sbom.descriptor(sbom.EMPTY_TYPE, str(empty_digest), len(sbom.EMPTY)),
        )
        self.manifests.put(repository, Digest.of(raw), raw, sbom.OCI_MANIFEST, [])


def _watched(chunks: Iterator[bytes], keepalive: KeepAlive, progress: Progress | None) -> Iterator[bytes]:
    """The blob's bytes, calling keepalive every few seconds and reporting progress."""
    last = time.monotonic()
    for chunk in chunks:
        if progress is not None:
            progress(len(chunk))
        if time.monotonic() - last > 2.0:
            keepalive()
            last = time.monotonic()
        yield chunk
