"""OCI workflow: push (every upload style, mounts, manifests and their validation)."""

from __future__ import annotations

import json
import os

from conformance.client import (
    OCI_INDEX,
    OCI_MANIFEST,
    Registry,
    descriptor,
    digest_of,
    error_code,
    make_image,
    unique_repo,
)


def test_monolithic_post_with_digest(reg: Registry) -> None:
    repo, data = unique_repo(), os.urandom(3000)
    digest = digest_of(data)
    response = reg.request(
        "POST",
        f"/v2/{repo}/blobs/uploads/",
        params={"digest": digest},
        content=data,
        headers={"Content-Type": "application/octet-stream"},
    )
    assert response.status_code == 201
    assert response.headers["location"] == f"/v2/{repo}/blobs/{digest}"
    assert reg.request("GET", response.headers["location"]).content == data


def test_post_then_put(reg: Registry) -> None:
    repo, data = unique_repo(), os.urandom(3000)
    response = reg.request("POST", f"/v2/{repo}/blobs/uploads/")
    assert response.status_code == 202
    assert response.headers["location"].startswith(f"/v2/{repo}/blobs/uploads/")
    assert response.headers["range"] == "0-0"
    put = reg.request("PUT", response.headers["location"], params={"digest": digest_of(data)}, content=data)
    assert put.status_code == 201
    assert put.headers["docker-content-digest"] == digest_of(data)
    assert reg.request("GET", put.headers["location"]).content == data
    assert reg.request("GET", response.headers["location"]).status_code == 404  # session is gone


def test_streamed_patch(reg: Registry) -> None:
    repo = unique_repo()
    parts = [os.urandom(70_000) for _ in range(20)]
    digest = digest_of(b"".join(parts))
    response = reg.push_streamed(repo, iter(parts), digest)
    assert response.status_code == 201
    assert reg.request("GET", f"/v2/{repo}/blobs/{digest}").content == b"".join(parts)


def test_chunked_upload_in_order_and_out_of_order(reg: Registry) -> None:
    repo, data = unique_repo(), os.urandom(42)
    first = reg.start_upload(repo)
    out_of_order = reg.request("PATCH", first, content=data[22:], headers={"Content-Range": "22-41"})
    assert out_of_order.status_code == 416
    assert error_code(out_of_order) == "BLOB_UPLOAD_INVALID"
    chunk = reg.request("PATCH", first, content=data[:22], headers={"Content-Range": "0-21"})
    assert chunk.status_code == 202
    assert chunk.headers["range"] == "0-21"
    retry = reg.request("PATCH", first, content=data[:22], headers={"Content-Range": "0-21"})
    assert retry.status_code == 416
    assert retry.headers["range"] == "0-21"
    status = reg.request("GET", first)
    assert status.status_code == 204
    assert status.headers["range"] == "0-21"
    second = reg.request("PATCH", status.headers["location"], content=data[22:], headers={"Content-Range": "22-41"})
    assert second.status_code == 202
    assert second.headers["range"] == "0-41"
    done = reg.request("PUT", second.headers["location"], params={"digest": digest_of(data)})
    assert done.status_code == 201
    assert reg.request("GET", done.headers["location"]).content == data


def test_last_chunk_in_put(reg: Registry) -> None:
    repo, data = unique_repo(), os.urandom(2000)
    location = reg.start_upload(repo)
    reg.request("PATCH", location, content=data[:1000], headers={"Content-Range": "0-999"})
    done = reg.request(
        "PUT", location, params={"digest": digest_of(data)}, content=data[1000:], headers={"Content-Range": "1000-1999"}
    )
    assert done.status_code == 201
    skipped = reg.start_upload(repo)
    ahead = reg.request(
        "PUT", skipped, params={"digest": digest_of(data)}, content=data[1000:], headers={"Content-Range": "1000-1999"}
    )
    assert ahead.status_code == 416


def test_content_length_must_match_content_range(reg: Registry) -> None:
    repo = unique_repo()
    location = reg.start_upload(repo)
    response = reg.request("PATCH", location, content=b"abc", headers={"Content-Range": "0-9"})
    assert response.status_code == 400
    assert error_code(response) == "SIZE_INVALID"


def test_digest_mismatch_and_missing_digest(reg: Registry) -> None:
    repo = unique_repo()
    location = reg.start_upload(repo)
    wrong = reg.request("PUT", location, params={"digest": digest_of(b"other")}, content=b"data")
    assert wrong.status_code == 400
    assert error_code(wrong) == "DIGEST_INVALID"
    assert reg.request("HEAD", f"/v2/{repo}/blobs/{digest_of(b'other')}").status_code == 404
    missing = reg.request("PUT", reg.start_upload(repo), content=b"data")
    assert missing.status_code == 400
    assert error_code(missing) == "DIGEST_INVALID"
    bad = reg.request("POST", f"/v2/{repo}/blobs/uploads/", params={"digest": digest_of(b"x")}, content=b"y")
    assert bad.status_code == 400
    assert reg.request("HEAD", f"/v2/{repo}/blobs/{digest_of(b'y')}").status_code == 404


def test_cancel_upload(reg: Registry) -> None:
    repo = unique_repo()
    location = reg.start_upload(repo)
    reg.request("PATCH", location, content=b"partial")
    assert reg.request("DELETE", location).status_code == 204
    status = reg.request("GET", location)
    assert status.status_code == 404
    assert error_code(status) == "BLOB_UPLOAD_UNKNOWN"
    assert reg.request("DELETE", location).status_code == 404


def test_upload_of_another_repository_is_unknown(reg: Registry) -> None:
    repo, other = unique_repo(), unique_repo()
    location = reg.start_upload(repo)
    foreign = location.replace(f"/v2/{repo}/", f"/v2/{other}/")
    assert reg.request("GET", foreign).status_code == 404
    assert reg.request("PATCH", foreign, content=b"x").status_code == 404


def test_cross_repository_mount(reg: Registry) -> None:
    source, target, data = unique_repo(), unique_repo(), os.urandom(500)
    digest = reg.push_blob(source, data)
    mounted = reg.request("POST", f"/v2/{target}/blobs/uploads/", params={"mount": digest, "from": source})
    assert mounted.status_code == 201
    assert mounted.headers["location"] == f"/v2/{target}/blobs/{digest}"
    assert reg.request("GET", mounted.headers["location"]).content == data
    missing = reg.request(
        "POST", f"/v2/{target}/blobs/uploads/", params={"mount": digest_of(b"absent"), "from": source}
    )
    assert missing.status_code == 202
    assert missing.headers["location"].startswith(f"/v2/{target}/blobs/uploads/")
    no_from = reg.request("POST", f"/v2/{target}/blobs/uploads/", params={"mount": digest_of(b"absent")})
    assert no_from.status_code == 202


def test_manifest_push_returns_location_and_digest(reg: Registry) -> None:
    repo, image = unique_repo(), make_image()
    response = reg.push_image(repo, image, "v1")
    assert response.status_code == 201
    assert response.headers["location"] == f"/v2/{repo}/manifests/{image.digest}"
    assert response.headers["docker-content-digest"] == image.digest
    assert reg.request("GET", response.headers["location"]).content == image.manifest


def test_manifest_referencing_missing_blobs(reg: Registry) -> None:
    repo, image = unique_repo(), make_image()
    reg.push_blob(repo, image.config)
    response = reg.put_manifest(repo, "v1", image.manifest)
    assert response.status_code == 400
    assert error_code(response) == "MANIFEST_BLOB_UNKNOWN"
    assert digest_of(image.layers[0]) in json.dumps(response.json())
    assert reg.get_manifest(repo, "v1").status_code == 404


def test_manifest_with_wrong_descriptor_size(reg: Registry) -> None:
    repo, image = unique_repo(), make_image()
    for blob in [image.config, *image.layers]:
        reg.push_blob(repo, blob)
    doc = json.loads(image.manifest)
    doc["layers"][0]["size"] += 1
    response = reg.put_manifest(repo, "v1", json.dumps(doc).encode())
    assert response.status_code == 400
    assert error_code(response) == "MANIFEST_INVALID"


def test_invalid_manifests(reg: Registry) -> None:
    repo, image = unique_repo(), make_image()
    reg.push_image(repo, image)
    cases = [
        b"blablabla",
        b"[]",
        json.dumps({"schemaVersion": 1}).encode(),
        json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": {"digest": "x"}}).encode(),
    ]
    for body in cases:
        response = reg.put_manifest(repo, "bad", body)
        assert response.status_code == 400, body
        assert error_code(response) == "MANIFEST_INVALID"
    mismatch = reg.put_manifest(repo, "bad", image.manifest, OCI_INDEX)
    assert mismatch.status_code == 400
    assert error_code(mismatch) == "MANIFEST_INVALID"


def test_manifest_digest_must_match_reference(reg: Registry) -> None:
    repo, image = unique_repo(), make_image()
    reg.push_image(repo, image)
    response = reg.put_manifest(repo, image.digest, image.manifest + b"  ")
    assert response.status_code == 400
    assert error_code(response) == "DIGEST_INVALID"
    bad = reg.put_manifest(repo, "sha256:baddigeststring", image.manifest)
    assert bad.status_code == 400


def test_invalid_names_and_tags(reg: Registry) -> None:
    image = make_image()
    for name in ("UPPER/case", "a..b", "-start", "x" * 256):
        response = reg.request("POST", f"/v2/{name}/blobs/uploads/")
        assert response.status_code == 400, name
        assert error_code(response) == "NAME_INVALID"
    too_long = reg.request("POST", f"/v2/{'x' * 300}/blobs/uploads/")
    assert error_code(too_long) == "NAME_INVALID" and "at most 255 characters" in too_long.text
    repo = unique_repo()
    reg.push_image(repo, image)
    response = reg.put_manifest(repo, "-bad-tag", image.manifest)
    assert response.status_code == 400 and error_code(response) == "TAG_INVALID"
    long_tag = reg.put_manifest(repo, "t" * 129, image.manifest)
    assert long_tag.status_code == 400 and error_code(long_tag) == "TAG_INVALID"
    assert "at most 128 characters" in long_tag.text


def test_manifest_size_limit(reg: Registry) -> None:
    repo, image = unique_repo(), make_image()
    reg.push_image(repo, image)
    doc = json.loads(image.manifest)
    doc["annotations"] = {f"k{i}": "v" * 10_000 for i in range(390)}
    big = json.dumps(doc).encode()
    assert 3_900_000 < len(big) < 4 << 20
    assert reg.put_manifest(repo, "big", big).status_code == 201
    doc["annotations"]["more"] = "v" * 300_000
    response = reg.put_manifest(repo, "huge", json.dumps(doc).encode())
    assert response.status_code == 413
    assert error_code(response) == "SIZE_INVALID" and "max_bytes" in response.text


def test_manifest_without_media_type_and_without_layers(reg: Registry) -> None:
    repo, config = unique_repo(), b"{}"
    reg.push_blob(repo, config)
    body = json.dumps(
        {"schemaVersion": 2, "config": descriptor("application/vnd.oci.image.config.v1+json", config), "layers": []}
    ).encode()
    assert reg.put_manifest(repo, "empty", body).status_code == 201
    assert reg.get_manifest(repo, "empty").headers["content-type"] == OCI_MANIFEST


def test_nondistributable_layers_and_missing_subject(reg: Registry) -> None:
    repo, config = unique_repo(), b"{}"
    reg.push_blob(repo, config)
    foreign = {
        "mediaType": "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
        "digest": digest_of(b"elsewhere"),
        "size": 9,
        "urls": ["https://example.com/layer"],
    }
    subject = {"mediaType": OCI_MANIFEST, "digest": digest_of(b"not pushed"), "size": 10}
    body = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": descriptor("application/vnd.oci.image.config.v1+json", config),
            "layers": [foreign],
            "subject": subject,
        }
    ).encode()
    response = reg.put_manifest(repo, digest_of(body), body)
    assert response.status_code == 201
    assert response.headers["oci-subject"] == subject["digest"]


def test_index_with_missing_child(reg: Registry) -> None:
    repo = unique_repo()
    index = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [{"mediaType": OCI_MANIFEST, "digest": digest_of(b"x"), "size": 1}],
        }
    ).encode()
    response = reg.put_manifest(repo, "idx", index, OCI_INDEX)
    assert response.status_code == 400
    assert error_code(response) == "MANIFEST_BLOB_UNKNOWN"


def test_tag_query_parameters(reg: Registry) -> None:
    repo, image = unique_repo(), make_image()
    for blob in [image.config, *image.layers]:
        reg.push_blob(repo, blob)
    response = reg.put_manifest(repo, image.digest, image.manifest, params=[("tag", "a"), ("tag", "b")])
    assert response.status_code == 201
    assert sorted(response.headers.get_list("oci-tag")) == ["a", "b"]
    for tag in ("a", "b"):
        assert reg.get_manifest(repo, tag).headers["docker-content-digest"] == image.digest


def test_moving_a_tag(reg: Registry) -> None:
    repo, first, second = unique_repo(), make_image(), make_image()
    reg.push_image(repo, first, "latest")
    reg.push_image(repo, second, "latest")
    assert reg.get_manifest(repo, "latest").headers["docker-content-digest"] == second.digest
    assert reg.get_manifest(repo, first.digest).status_code == 200
