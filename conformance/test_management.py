"""OCI workflow: content management (deleting tags, manifests and blobs)."""

from __future__ import annotations

import json
import os

from conformance.client import (
    OCI_LAYER,
    OCI_MANIFEST,
    Registry,
    descriptor,
    digest_of,
    error_code,
    make_image,
    unique_repo,
)


def test_delete_tag_keeps_manifest(reg: Registry) -> None:
    repo, image = unique_repo(), make_image()
    reg.push_image(repo, image, "one")
    reg.put_manifest(repo, "two", image.manifest)
    assert reg.request("DELETE", f"/v2/{repo}/manifests/one").status_code == 202
    assert reg.get_manifest(repo, "one").status_code == 404
    assert reg.get_manifest(repo, "two").status_code == 200
    assert reg.get_manifest(repo, image.digest).status_code == 200
    assert reg.request("GET", f"/v2/{repo}/tags/list").json()["tags"] == ["two"]
    assert reg.request("DELETE", f"/v2/{repo}/manifests/one").status_code == 404


def test_delete_manifest_removes_its_tags(reg: Registry) -> None:
    repo, image = unique_repo(), make_image()
    reg.push_image(repo, image, "one")
    reg.put_manifest(repo, "two", image.manifest)
    assert reg.request("DELETE", f"/v2/{repo}/manifests/{image.digest}").status_code == 202
    for reference in ("one", "two", image.digest):
        assert reg.get_manifest(repo, reference, "HEAD").status_code == 404
    tags = reg.request("GET", f"/v2/{repo}/tags/list")
    assert tags.status_code == 200
    assert tags.json()["tags"] == []
    again = reg.request("DELETE", f"/v2/{repo}/manifests/{image.digest}")
    assert again.status_code == 404
    assert error_code(again) == "MANIFEST_UNKNOWN"


def test_repush_after_delete(reg: Registry) -> None:
    repo, image = unique_repo(), make_image()
    reg.push_image(repo, image, "v")
    reg.request("DELETE", f"/v2/{repo}/manifests/{image.digest}")
    assert reg.put_manifest(repo, "v", image.manifest).status_code == 201
    assert reg.get_manifest(repo, "v").content == image.manifest


def test_deleting_a_manifest_keeps_blobs_other_manifests_need(reg: Registry) -> None:
    repo, shared = unique_repo(), os.urandom(4096)
    first, second = make_image(), make_image()
    for image in (first, second):
        image.layers.append(shared)
        doc = json.loads(image.manifest)
        doc["layers"].append(descriptor(OCI_LAYER, shared))
        image.manifest = json.dumps(doc).encode()
        assert reg.push_image(repo, image, image.digest).status_code == 201
    assert reg.request("DELETE", f"/v2/{repo}/manifests/{first.digest}").status_code == 202
    manifest = reg.get_manifest(repo, second.digest)
    assert manifest.status_code == 200 and manifest.headers["content-type"] == OCI_MANIFEST
    for blob in [second.config, *second.layers]:
        assert reg.request("GET", f"/v2/{repo}/blobs/{digest_of(blob)}").content == blob


def test_delete_blob(reg: Registry) -> None:
    repo, data = unique_repo(), os.urandom(100)
    digest = reg.push_blob(repo, data)
    assert reg.request("DELETE", f"/v2/{repo}/blobs/{digest}").status_code == 202
    assert reg.request("HEAD", f"/v2/{repo}/blobs/{digest}").status_code == 404
    again = reg.request("DELETE", f"/v2/{repo}/blobs/{digest}")
    assert again.status_code == 404
    assert error_code(again) == "BLOB_UNKNOWN"


def test_deleting_a_blob_in_one_repository_keeps_it_in_others(reg: Registry) -> None:
    first, second, data = unique_repo(), unique_repo(), os.urandom(100)
    digest = reg.push_blob(first, data)
    reg.push_blob(second, data)
    reg.request("DELETE", f"/v2/{first}/blobs/{digest}")
    assert reg.request("GET", f"/v2/{second}/blobs/{digest}").content == data


def test_unsupported_method_and_unknown_endpoint(reg: Registry) -> None:
    repo = unique_repo()
    response = reg.request("PATCH", f"/v2/{repo}/manifests/latest")
    assert response.status_code == 405
    assert error_code(response) == "UNSUPPORTED"
    assert reg.request("GET", "/v3/").status_code == 404
