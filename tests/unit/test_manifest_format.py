from __future__ import annotations

import json
from typing import Any

import pytest

from storage.errors import ManifestInvalid
from storage.manifest_format import DOCKER_LIST, DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST, parse

D1 = "sha256:" + "1" * 64
D2 = "sha256:" + "2" * 64


def desc(media_type: str, digest: str, size: int = 1, **extra: Any) -> dict[str, Any]:
    return {"mediaType": media_type, "digest": digest, "size": size, **extra}


def body(**doc: Any) -> bytes:
    return json.dumps({"schemaVersion": 2, **doc}).encode()


def test_image_manifest_references_config_and_layers() -> None:
    raw = body(
        mediaType=OCI_MANIFEST,
        config=desc("application/vnd.oci.image.config.v1+json", D1),
        layers=[desc("application/vnd.oci.image.layer.v1.tar", D2)],
    )
    parsed = parse(raw, OCI_MANIFEST)
    assert [d.digest for d in parsed.blobs] == [D1, D2]
    assert parsed.descriptor_artifact_type == "application/vnd.oci.image.config.v1+json"
    assert not parsed.is_index


def test_foreign_layers_are_not_required() -> None:
    raw = body(config=desc("c", D1), layers=[desc("l", D2, urls=["https://x"])])
    assert [d.digest for d in parse(raw, OCI_MANIFEST).blobs] == [D1]


def test_index_children_and_artifact_type() -> None:
    raw = body(
        mediaType=OCI_INDEX, artifactType="a/b", manifests=[desc(OCI_MANIFEST, D1)], subject=desc(OCI_MANIFEST, D2)
    )
    parsed = parse(raw, None)
    assert parsed.is_index and parsed.children[0].digest == D1
    assert parsed.descriptor_artifact_type == "a/b"
    assert parsed.subject is not None and parsed.subject.digest == D2


def test_media_type_comes_from_content_type_or_body() -> None:
    assert parse(body(config=desc("c", D1), layers=[]), None).media_type == OCI_MANIFEST
    assert parse(body(manifests=[]), "application/json").media_type == OCI_INDEX
    assert parse(body(mediaType=DOCKER_LIST, manifests=[]), None).media_type == DOCKER_LIST
    assert parse(body(config=desc("c", D1), layers=[]), DOCKER_MANIFEST).media_type == DOCKER_MANIFEST


@pytest.mark.parametrize(
    ("raw", "content_type"),
    [
        (b"not json", OCI_MANIFEST),
        (b"[]", OCI_MANIFEST),
        (json.dumps({"schemaVersion": 1}).encode(), OCI_MANIFEST),
        (body(mediaType=OCI_INDEX, manifests=[]), OCI_MANIFEST),
        (body(config=desc("c", "sha256:bad"), layers=[]), OCI_MANIFEST),
        (body(config=desc("c", D1, size=-1), layers=[]), OCI_MANIFEST),
        (body(config=desc("c", D1, size=True), layers=[]), OCI_MANIFEST),
        (body(config=desc("", D1), layers=[]), OCI_MANIFEST),
        (body(config=desc("c", D1), layers={}), OCI_MANIFEST),
        (body(config=desc("c", D1), layers=[], annotations={"a": 1}), OCI_MANIFEST),
        (body(manifests=None), OCI_INDEX),
        (body(config=desc("c", D1)), "application/vnd.docker.distribution.manifest.v1+prettyjws"),
        (body(config=desc("c", D1), layers=[]), "text/plain"),
        (body(config=desc("c", D1), layers=[], artifactType=5), OCI_MANIFEST),
    ],
)
def test_invalid(raw: bytes, content_type: str) -> None:
    with pytest.raises(ManifestInvalid):
        parse(raw, content_type)
