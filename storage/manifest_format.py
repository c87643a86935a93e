"""Parsing and validating image manifests and indexes (OCI and Docker schema 2).

Pure functions: bytes in, a summary of what the manifest references out. The exact bytes are
stored untouched; this only decides whether they are acceptable and what they need.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from .digest import Digest, DigestError
from .errors import ManifestInvalid

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_SCHEMA1 = (
    "application/vnd.docker.distribution.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v1+prettyjws",
)
OCI_EMPTY_CONFIG = "application/vnd.oci.empty.v1+json"

IMAGE_TYPES = (OCI_MANIFEST, DOCKER_MANIFEST)
INDEX_TYPES = (OCI_INDEX, DOCKER_LIST)
MANIFEST_TYPES = IMAGE_TYPES + INDEX_TYPES


@dataclass(frozen=True, slots=True)
class Descriptor:
    media_type: str
    digest: str
    size: int
    urls: tuple[str, ...] = ()
    platform: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class ParsedManifest:
    media_type: str
    artifact_type: str | None
    subject: Descriptor | None
    config: Descriptor | None
    blobs: tuple[Descriptor, ...]  # config and layers that must be present in the repository
    children: tuple[Descriptor, ...]  # index entries
    annotations: dict[str, str] = field(default_factory=dict)
    layers: tuple[Descriptor, ...] = ()  # in order, foreign layers included

    @property
    def is_index(self) -> bool:
        return self.media_type in INDEX_TYPES

    @property
    def descriptor_artifact_type(self) -> str | None:
        """artifactType as the referrers API reports it: the field, else the config's type."""
        if self.artifact_type:
            return self.artifact_type
        if self.config is not None and not self.is_index:
            return self.config.media_type
        return None


def _fail(message: str) -> ManifestInvalid:
    return ManifestInvalid(message, {"reason": message})


def _descriptor(value: Any, where: str) -> Descriptor:
    if not isinstance(value, dict):
        raise _fail(f"{where}: descriptor must be an object")
    media_type, digest, size = value.get("mediaType"), value.get("digest"), value.get("size")
    if not isinstance(media_type, str) or not media_type:
        raise _fail(f"{where}: mediaType must be a non-empty string")
    if not isinstance(digest, str):
        raise _fail(f"{where}: digest must be a string")
    try:
        Digest.parse(digest)
    except DigestError as exc:
        raise _fail(f"{where}: {exc}") from None
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise _fail(f"{where}: size must be a non-negative integer")
    urls = value.get("urls") or ()
    if not isinstance(urls, list | tuple) or not all(isinstance(u, str) for u in urls):
        raise _fail(f"{where}: urls must be a list of strings")
    platform = value.get("platform")
    if platform is not None and not isinstance(platform, dict):
        raise _fail(f"{where}: platform must be an object")
    return Descriptor(media_type, digest, size, tuple(urls), platform)


def _descriptor_list(doc: dict[str, Any], key: str, required: bool) -> tuple[Descriptor, ...]:
    value = doc.get(key)
    if value is None and not required:
        return ()
    if not isinstance(value, list):
        raise _fail(f"{key} must be a list")
    return tuple(_descriptor(item, f"{key}[{i}]") for i, item in enumerate(value))


def _media_type(doc: dict[str, Any], content_type: str | None) -> str:
    declared = doc.get("mediaType")
    if declared is not None and not isinstance(declared, str):
        raise _fail("mediaType must be a string")
    if content_type and content_type in MANIFEST_TYPES:
        if declared and declared != content_type:
            raise _fail(f"mediaType {declared!r} does not match Content-Type {content_type!r}")
        return content_type
    if content_type in DOCKER_SCHEMA1 or declared in DOCKER_SCHEMA1:
        raise _fail("Docker schema 1 manifests are not supported; push schema 2 or OCI")
    if declared in MANIFEST_TYPES:
        return str(declared)
    if content_type and content_type not in ("application/json", "application/octet-stream"):
        raise _fail(f"unsupported manifest media type {content_type!r}")
    return OCI_INDEX if "manifests" in doc else OCI_MANIFEST


def _annotations(doc: dict[str, Any]) -> dict[str, str]:
    value = doc.get("annotations") or {}
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise _fail("annotations must be a map of strings")
    return value


def _load(body: bytes) -> dict[str, Any]:
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise _fail(f"manifest is not valid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise _fail("manifest must be a JSON object")
    if doc.get("schemaVersion") != 2:
        raise _fail("schemaVersion must be 2")
    return doc


def parse(body: bytes, content_type: str | None) -> ParsedManifest:
    doc = _load(body)
    media_type = _media_type(doc, content_type)
    artifact_type = doc.get("artifactType")
    if artifact_type is not None and not isinstance(artifact_type, str):
        raise _fail("artifactType must be a string")
    subject = _descriptor(doc["subject"], "subject") if doc.get("subject") is not None else None
    if media_type in INDEX_TYPES:
        children = _descriptor_list(doc, "manifests", required=True)
        return ParsedManifest(media_type, artifact_type, subject, None, (), children, _annotations(doc))
    config = _descriptor(doc.get("config"), "config")
    layers = _descriptor_list(doc, "layers", required=media_type == DOCKER_MANIFEST)
    # Foreign layers (with urls) live elsewhere by design, so they need not be in the repository.
    needed = (config, *(layer for layer in layers if not layer.urls))
    return ParsedManifest(media_type, artifact_type, subject, config, needed, (), _annotations(doc), layers)
