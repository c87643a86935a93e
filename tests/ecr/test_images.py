"""Image operations through stock boto3, on images pushed over the OCI API (and back)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from conformance.client import OCI_MANIFEST, Registry, descriptor, digest_of, make_image
from tests.ecr.conftest import ecr_client, error_of
from tests.support.server import ServerProcess


def test_describe_images_reports_size_times_tags_and_types(
    ecr: Any, reg: Registry, new_repo: Callable[..., str]
) -> None:
    name = new_repo()
    image = make_image(layers=2, size=4096)
    assert reg.push_image(name, image, "v1").status_code == 201
    reg.put_manifest(name, "stable", image.manifest)
    details = ecr.describe_images(repositoryName=name)["imageDetails"]
    assert len(details) == 1
    detail = details[0]
    assert detail["imageDigest"] == image.digest
    assert sorted(detail["imageTags"]) == ["stable", "v1"]
    expected = len(image.manifest) + len(image.config) + sum(len(layer) for layer in image.layers)
    assert detail["imageSizeInBytes"] == expected
    assert detail["imageManifestMediaType"] == OCI_MANIFEST
    assert detail["artifactMediaType"] == "application/vnd.oci.image.config.v1+json"
    assert abs(detail["imagePushedAt"].timestamp() - time.time()) < 600
    assert "lastRecordedPullTime" not in detail


def test_list_and_describe_paginate_and_filter(ecr: Any, reg: Registry, new_repo: Callable[..., str]) -> None:
    name = new_repo()
    tagged = [make_image() for _ in range(3)]
    for i, image in enumerate(tagged):
        reg.push_image(name, image, f"t{i}")
    untagged = make_image()
    reg.push_image(name, untagged)
    pages = list(ecr.get_paginator("list_images").paginate(repositoryName=name, PaginationConfig={"PageSize": 2}))
    assert [len(page["imageIds"]) for page in pages] == [2, 2]
    ids = [image_id for page in pages for image_id in page["imageIds"]]
    assert {i.get("imageTag") for i in ids} == {"t0", "t1", "t2", None}
    only_untagged = ecr.list_images(repositoryName=name, filter={"tagStatus": "UNTAGGED"})["imageIds"]
    assert only_untagged == [{"imageDigest": untagged.digest}]
    described = ecr.get_paginator("describe_images").paginate(
        repositoryName=name, filter={"tagStatus": "TAGGED"}, PaginationConfig={"PageSize": 1}
    )
    assert sorted(d["imageDigest"] for page in described for d in page["imageDetails"]) == sorted(
        i.digest for i in tagged
    )
    archived = ecr.describe_images(repositoryName=name, filter={"imageStatus": "ARCHIVED"})["imageDetails"]
    assert archived == []
    with pytest.raises(ClientError) as info:
        ecr.describe_images(repositoryName=name, imageIds=[{"imageTag": "nope"}])
    assert error_of(info)[0] == "ImageNotFoundException"
    with pytest.raises(ClientError) as info:
        ecr.list_images(repositoryName=f"{name}-missing")
    assert error_of(info)[0] == "RepositoryNotFoundException"


def test_batch_get_image(ecr: Any, reg: Registry, new_repo: Callable[..., str]) -> None:
    name = new_repo()
    image = make_image()
    reg.push_image(name, image, "v1")
    result = ecr.batch_get_image(
        repositoryName=name,
        imageIds=[{"imageTag": "v1"}, {"imageTag": "nope"}, {"imageDigest": "sha256:zz"}, {}],
    )
    assert [i["imageManifest"].encode() for i in result["images"]] == [image.manifest]
    assert result["images"][0]["imageId"] == {"imageDigest": image.digest, "imageTag": "v1"}
    assert result["images"][0]["imageManifestMediaType"] == OCI_MANIFEST
    codes = sorted(f["failureCode"] for f in result["failures"])
    assert codes == ["ImageNotFound", "InvalidImageDigest", "MissingDigestAndTag"]
    mismatch = ecr.batch_get_image(repositoryName=name, imageIds=[{"imageTag": "v1", "imageDigest": digest_of(b"x")}])
    assert mismatch["failures"][0]["failureCode"] == "ImageTagDoesNotMatchDigest"
    refused = ecr.batch_get_image(
        repositoryName=name, imageIds=[{"imageTag": "v1"}], acceptedMediaTypes=["application/vnd.docker.foo"]
    )
    assert refused["images"] == [] and refused["failures"][0]["failureCode"] == "ImageNotFound"


def test_pulls_are_recorded_in_batches(start_server: Callable[..., ServerProcess]) -> None:
    server = start_server(env={"CAIS_PULLS__FLUSH_INTERVAL": "0.2"})
    client, reg = ecr_client(server.url), Registry(server.url)
    image = make_image()
    reg.push_image("pulled/app", image, "v1")
    reg.push_image("pulled/app", make_image(), "v2")
    assert reg.get_manifest("pulled/app", "v1").status_code == 200
    deadline = time.monotonic() + 30
    while True:
        details = {d["imageTags"][0]: d for d in client.describe_images(repositoryName="pulled/app")["imageDetails"]}
        if "lastRecordedPullTime" in details["v1"]:
            break
        assert time.monotonic() < deadline, "the pull time was never written"
        time.sleep(0.1)
    assert "lastRecordedPullTime" not in details["v2"]
    assert details["v1"]["lastRecordedPullTime"] >= details["v1"]["imagePushedAt"]


def test_batch_delete_image(ecr: Any, reg: Registry, new_repo: Callable[..., str]) -> None:
    name = new_repo()
    one, two = make_image(), make_image()
    reg.push_image(name, one, "a")
    reg.put_manifest(name, "b", one.manifest)
    reg.push_image(name, two, "c")
    result = ecr.batch_delete_image(
        repositoryName=name,
        imageIds=[{"imageTag": "a"}, {"imageTag": "missing"}, {"imageTag": "c", "imageDigest": one.digest}],
    )
    assert result["imageIds"] == [{"imageDigest": one.digest, "imageTag": "a"}]
    assert [f["failureCode"] for f in result["failures"]] == ["ImageNotFound", "ImageTagDoesNotMatchDigest"]
    assert reg.get_manifest(name, one.digest).status_code == 200, "still tagged b"
    ecr.batch_delete_image(repositoryName=name, imageIds=[{"imageTag": "b"}])
    assert reg.get_manifest(name, one.digest).status_code == 404, "removing the last tag removes the image"
    ecr.batch_delete_image(repositoryName=name, imageIds=[{"imageDigest": two.digest}])
    assert reg.get_manifest(name, "c").status_code == 404


def test_an_image_listed_by_an_index_is_not_deleted_by_digest(
    ecr: Any, reg: Registry, new_repo: Callable[..., str]
) -> None:
    name = new_repo()
    child = make_image()
    reg.push_image(name, child)
    index = json.dumps({"schemaVersion": 2, "manifests": [descriptor(OCI_MANIFEST, child.manifest)]}).encode()
    reg.put_manifest(name, "multi", index, "application/vnd.oci.image.index.v1+json")
    result = ecr.batch_delete_image(repositoryName=name, imageIds=[{"imageDigest": child.digest}])
    assert result["failures"][0]["failureCode"] == "ImageReferencedByManifestList"


def test_put_image(ecr: Any, reg: Registry, new_repo: Callable[..., str]) -> None:
    name = new_repo()
    image = make_image()
    reg.push_image(name, image, "v1")
    manifest = image.manifest.decode()
    put = ecr.put_image(repositoryName=name, imageManifest=manifest, imageTag="v2")["image"]
    assert put["imageId"] == {"imageDigest": image.digest, "imageTag": "v2"}
    assert reg.get_manifest(name, "v2").content == image.manifest
    with pytest.raises(ClientError) as info:
        ecr.put_image(repositoryName=name, imageManifest=manifest, imageTag="v2")
    assert error_of(info)[0] == "ImageAlreadyExistsException"
    with pytest.raises(ClientError) as info:
        ecr.put_image(repositoryName=name, imageManifest=manifest, imageTag="v3", imageDigest=digest_of(b"other"))
    assert error_of(info)[0] == "ImageDigestDoesNotMatchException"
    missing = make_image()
    with pytest.raises(ClientError) as info:
        ecr.put_image(repositoryName=name, imageManifest=missing.manifest.decode(), imageTag="v4")
    assert error_of(info)[0] == "LayersNotFoundException"
    with pytest.raises(ClientError) as info:
        ecr.put_image(repositoryName=name, imageManifest="{}", imageTag="v5")
    assert error_of(info)[0] == "InvalidParameterException"


def test_immutable_tags_cannot_move(ecr: Any, reg: Registry, new_repo: Callable[..., str]) -> None:
    name = new_repo(
        imageTagMutability="IMMUTABLE_WITH_EXCLUSION",
        imageTagMutabilityExclusionFilters=[{"filterType": "WILDCARD", "filter": "latest*"}],
    )
    first, second = make_image(), make_image()
    assert reg.push_image(name, first, "v1").status_code == 201
    assert reg.push_image(name, second, "latest").status_code == 201
    moved = reg.push_image(name, second, "v1")
    assert moved.status_code == 400
    assert moved.json()["errors"][0]["code"] == "MANIFEST_INVALID"
    assert "v1 already exists" in moved.json()["errors"][0]["message"]
    assert reg.put_manifest(name, "v1", first.manifest).status_code == 201, "re-pushing the same manifest is fine"
    assert reg.put_manifest(name, "latest", first.manifest).status_code == 201, "latest* is excluded"
    with pytest.raises(ClientError) as info:
        ecr.put_image(repositoryName=name, imageManifest=second.manifest.decode(), imageTag="v1")
    assert error_of(info) == (
        "ImageTagAlreadyExistsException",
        f"The image tag 'v1' already exists in the '{name}' repository and cannot be overwritten because the tag is "
        "immutable.",
    )
    ecr.put_image_tag_mutability(repositoryName=name, imageTagMutability="MUTABLE")
    assert reg.put_manifest(name, "v1", second.manifest).status_code == 201


def test_without_create_on_push_unknown_repositories_are_refused(start_server: Callable[..., ServerProcess]) -> None:
    server = start_server(env={"CAIS_REPOSITORIES__CREATE_ON_PUSH": "false"})
    reg, client = Registry(server.url), ecr_client(server.url)
    image = make_image()
    started = reg.request("POST", "/v2/nobody/home/blobs/uploads/")
    assert (started.status_code, started.json()["errors"][0]["code"]) == (404, "NAME_UNKNOWN")
    manifest = reg.put_manifest("nobody/home", "v1", image.manifest)
    assert (manifest.status_code, manifest.json()["errors"][0]["code"]) == (404, "NAME_UNKNOWN")
    client.create_repository(repositoryName="nobody/home")
    assert reg.push_image("nobody/home", image, "v1").status_code == 201
    assert client.list_images(repositoryName="nobody/home")["imageIds"] == [
        {"imageDigest": image.digest, "imageTag": "v1"}
    ]
