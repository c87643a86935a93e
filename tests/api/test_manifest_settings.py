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
