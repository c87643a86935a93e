"""OCI workflow: pull (blobs and manifests, by tag and digest, ranges, errors)."""

from __future__ import annotations

import json
import os

from conformance.client import (
    DOCKER_LIST,
    DOCKER_MANIFEST,
    OCI_INDEX,
    Registry,
    descriptor,
    digest_of,
    error_code,
    make_image,
    registry_answer,
    unique_repo,
)


def test_api_version_check(reg: Registry) -> None:
    response = reg.request("GET", "/v2/")
    assert response.status_code == 200
    assert response.headers["docker-distribution-api-version"] == "registry/2.0"
    error = reg.request("GET", "/v2/conformance/absent/tags/list")
    assert error.headers.get_list("docker-distribution-api-version") == ["registry/2.0"]


def test_blob_head_and_get(reg: Registry) -> None:
    repo, data = unique_repo(), os.urandom(5000)
    digest = reg.push_blob(repo, data)
    head = reg.request("HEAD", f"/v2/{repo}/blobs/{digest}")
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-length"] == "5000"
    assert head.headers["docker-content-digest"] == digest
    get = reg.request("GET", f"/v2/{repo}/blobs/{digest}")
    assert get.status_code == 200
    assert get.content == data
    assert registry_answer(get).headers["docker-content-digest"] == digest


def test_unknown_blob_is_404(reg: Registry) -> None:
    repo = unique_repo()
    reg.push_blob(repo, b"something")
    missing = digest_of(b"hello world")
    assert reg.request("HEAD", f"/v2/{repo}/blobs/{missing}").status_code == 404
    response = reg.request("GET", f"/v2/{repo}/blobs/{missing}")
    assert response.status_code == 404
    assert error_code(response) == "BLOB_UNKNOWN"


def test_blob_is_visible_only_in_repositories_that_hold_it(reg: Registry) -> None:
    repo, other = unique_repo(), unique_repo()
    digest = reg.push_blob(repo, os.urandom(100))
    reg.push_blob(other, b"x")
    assert reg.request("HEAD", f"/v2/{other}/blobs/{digest}").status_code == 404


def test_blob_ranges(reg: Registry) -> None:
    repo, data = unique_repo(), os.urandom(2048)
    digest = reg.push_blob(repo, data)
    path = f"/v2/{repo}/blobs/{digest}"
    cases = {
        "bytes=500-1499": (500, 1500),
        "bytes=500-": (500, 2048),
        "bytes=-500": (1548, 2048),
        "bytes=2000-5000": (2000, 2048),
    }
    for header, (start, end) in cases.items():
        response = reg.request("GET", path, headers={"Range": header})
        assert response.status_code == 206, header
        assert response.content == data[start:end], header
        assert response.headers["content-range"] == f"bytes {start}-{end - 1}/2048"
        assert response.headers["content-length"] == str(end - start)
    for header in ("bytes=500-0", "bytes=5000-10000"):
        response = reg.request("GET", path, headers={"Range": header})
        assert response.status_code == 416, header
        assert response.headers["content-range"] == "bytes */2048"


def test_zero_byte_blob(reg: Registry) -> None:
    repo = unique_repo()
    digest = reg.push_blob(repo, b"")
    assert digest == "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    response = reg.request("GET", f"/v2/{repo}/blobs/{digest}")
    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["content-length"] == "0"


def test_sha512_blob(reg: Registry) -> None:
    repo, data = unique_repo(), os.urandom(700)
    digest = reg.push_blob(repo, data, algorithm="sha512")
    response = reg.request("GET", f"/v2/{repo}/blobs/{digest}")
    assert response.status_code == 200
    assert response.content == data
    assert registry_answer(response).headers["docker-content-digest"] == digest


def test_manifest_by_tag_and_digest(reg: Registry) -> None:
    repo, image = unique_repo(), make_image(layers=2)
    assert reg.push_image(repo, image, "v1").status_code == 201
    for reference in ("v1", image.digest):
        for method in ("GET", "HEAD"):
            response = reg.get_manifest(repo, reference, method)
            assert response.status_code == 200
            assert response.headers["content-type"] == image.media_type
            assert response.headers["docker-content-digest"] == image.digest
            assert response.headers["content-length"] == str(len(image.manifest))
            assert response.content == (image.manifest if method == "GET" else b"")


def test_manifest_bytes_are_served_exactly_as_pushed(reg: Registry) -> None:
    repo, image = unique_repo(), make_image(newUnspecifiedField="kept", annotations={"a": "b"})
    reg.push_image(repo, image, "exact")
    assert reg.get_manifest(repo, "exact").content == image.manifest


def test_unknown_manifests(reg: Registry) -> None:
    repo = unique_repo()
    reg.push_image(repo, make_image(), "present")
    for reference in (".INVALID_MANIFEST_NAME", "absent", digest_of(b"nope")):
        for method in ("GET", "HEAD"):
            assert reg.get_manifest(repo, reference, method).status_code == 404
    assert error_code(reg.get_manifest(repo, "absent")) == "MANIFEST_UNKNOWN"
    assert reg.get_manifest(unique_repo("never"), "latest").status_code == 404


def test_malformed_digest_reference(reg: Registry) -> None:
    repo = unique_repo()
    response = reg.get_manifest(repo, "sha256:totallywrong")
    assert response.status_code == 400
    assert error_code(response) == "DIGEST_INVALID"


def test_accept_negotiation(reg: Registry) -> None:
    repo, image = unique_repo(), make_image()
    reg.push_image(repo, image, "v1")
    path = f"/v2/{repo}/manifests/v1"
    docker_only = reg.request("GET", path, headers={"Accept": DOCKER_MANIFEST})
    assert docker_only.status_code == 404
    assert error_code(docker_only) == "MANIFEST_UNKNOWN"
    for accept in ("*/*", image.media_type, f"{DOCKER_MANIFEST}, {image.media_type}"):
        assert reg.request("GET", path, headers={"Accept": accept}).content == image.manifest
    assert reg.request("GET", path).status_code == 200


def test_conditional_get(reg: Registry) -> None:
    repo, image = unique_repo(), make_image()
    reg.push_image(repo, image, "etag")
    response = reg.request("GET", f"/v2/{repo}/manifests/etag", headers={"If-None-Match": f'"{image.digest}"'})
    assert response.status_code == 304


def test_docker_schema2_and_manifest_list(reg: Registry) -> None:
    repo, image = unique_repo(), make_image(media_type=DOCKER_MANIFEST)
    assert reg.push_image(repo, image, "docker").status_code == 201
    listing = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": DOCKER_LIST,
            "manifests": [
                descriptor(DOCKER_MANIFEST, image.manifest, platform={"architecture": "amd64", "os": "linux"})
            ],
        }
    ).encode()
    assert reg.put_manifest(repo, "list", listing, DOCKER_LIST).status_code == 201
    response = reg.get_manifest(repo, "list")
    assert response.headers["content-type"] == DOCKER_LIST
    assert response.content == listing
    assert reg.get_manifest(repo, "docker").headers["content-type"] == DOCKER_MANIFEST


def test_sha512_manifest(reg: Registry) -> None:
    repo, image = unique_repo(), make_image()
    for blob in [image.config, *image.layers]:
        reg.push_blob(repo, blob)
    digest = digest_of(image.manifest, "sha512")
    response = reg.put_manifest(repo, digest, image.manifest)
    assert response.status_code == 201
    assert response.headers["docker-content-digest"] == digest
    fetched = reg.get_manifest(repo, digest)
    assert fetched.status_code == 200
    assert fetched.content == image.manifest


def test_nested_index(reg: Registry) -> None:
    repo, image = unique_repo(), make_image()
    reg.push_image(repo, image)
    inner = json.dumps(
        {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [descriptor(image.media_type, image.manifest)]}
    ).encode()
    assert reg.put_manifest(repo, digest_of(inner), inner, OCI_INDEX).status_code == 201
    outer = json.dumps(
        {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [descriptor(OCI_INDEX, inner)]}
    ).encode()
    assert reg.put_manifest(repo, "nested", outer, OCI_INDEX).status_code == 201
    assert reg.get_manifest(repo, "nested").content == outer
