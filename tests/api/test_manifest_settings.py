"""Manifest settings that change behaviour: sparse indexes and the size limit."""

from __future__ import annotations

import json
from collections.abc import Callable

from conformance.client import OCI_INDEX, OCI_MANIFEST, Registry, digest_of, error_code, make_image
from tests.support.server import ServerProcess


def _index_of_missing_children() -> bytes:
    children = [
        {
            "mediaType": OCI_MANIFEST,
            "digest": digest_of(f"arm{i}".encode()),
            "size": 5,
            "platform": {"architecture": f"arch{i}", "os": "linux"},
        }
        for i in range(2)
    ]
    return json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": children}).encode()


def test_sparse_index_accepted_when_configured(start_server: Callable[..., ServerProcess]) -> None:
    server = start_server(env={"CAIS_MANIFESTS__REQUIRE_INDEX_CHILDREN": "false"})
    reg = Registry(server.url)
    index = _index_of_missing_children()
    assert reg.put_manifest("sparse/app", "multi", index, OCI_INDEX).status_code == 201
    assert reg.get_manifest("sparse/app", "multi").content == index


def test_manifest_size_limit_is_configurable(start_server: Callable[..., ServerProcess]) -> None:
    server = start_server(env={"CAIS_MANIFESTS__MAX_BYTES": "1KiB"})
    reg = Registry(server.url)
    image = make_image(annotations={"padding": "x" * 2000})
    response = reg.push_image("limit/app", image, "big")
    assert response.status_code == 413
    assert error_code(response) == "SIZE_INVALID"


def test_sparse_image_manifests_accepted_when_configured(start_server: Callable[..., ServerProcess]) -> None:
    """The sparse data set of the OCI conformance suite: an image whose first layer was never
    pushed, and an index with a platform that was not copied."""
    server = start_server(
        env={"CAIS_MANIFESTS__REQUIRE_LAYERS": "false", "CAIS_MANIFESTS__REQUIRE_INDEX_CHILDREN": "false"}
    )
    reg = Registry(server.url)
    image = make_image(layers=2)
    reg.push_blob("sparse/image", image.config)
    reg.push_blob("sparse/image", image.layers[1])
    assert reg.put_manifest("sparse/image", "v1", image.manifest).status_code == 201
    assert reg.get_manifest("sparse/image", "v1").content == image.manifest
    assert reg.request("GET", f"/v2/sparse/image/blobs/{digest_of(image.layers[0])}").status_code == 404
    index = json.loads(_index_of_missing_children())
    index["manifests"][0] = {**index["manifests"][0], "digest": image.digest, "size": len(image.manifest)}
    assert reg.put_manifest("sparse/image", "multi", json.dumps(index).encode(), OCI_INDEX).status_code == 201
    unconfigured = make_image(layers=1)  # the config is still required: without it, no platform
    reg.push_blob("sparse/image", unconfigured.layers[0])
    refused = reg.put_manifest("sparse/image", "v2", unconfigured.manifest)
    assert refused.status_code == 400 and error_code(refused) == "MANIFEST_BLOB_UNKNOWN"
