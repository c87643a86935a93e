"""Pushing an image the way the ECR API does it: layer parts, then PutImage."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError

from conformance.client import OCI_CONFIG, OCI_LAYER, OCI_MANIFEST, Registry, descriptor, digest_of
from tests.ecr.conftest import error_of


def upload(ecr: Any, name: str, data: bytes, part: int) -> str:
    upload_id = ecr.initiate_layer_upload(repositoryName=name)["uploadId"]
    for start in range(0, len(data), part):
        chunk = data[start : start + part]
        answer = ecr.upload_layer_part(
            repositoryName=name,
            uploadId=upload_id,
            partFirstByte=start,
            partLastByte=start + len(chunk) - 1,
            layerPartBlob=chunk,
        )
        assert answer["lastByteReceived"] == start + len(chunk) - 1
    done = ecr.complete_layer_upload(repositoryName=name, uploadId=upload_id, layerDigests=[digest_of(data)])
    return str(done["layerDigest"])


def test_push_with_layer_parts_then_pull_over_oci(ecr: Any, reg: Registry, new_repo: Callable[..., str]) -> None:
    name = new_repo()
    layer, config = os.urandom(300_000), json.dumps({"architecture": "amd64", "os": "linux"}).encode()
    assert upload(ecr, name, layer, 100_000) == digest_of(layer)
    upload(ecr, name, config, 1 << 20)
    availability = ecr.batch_check_layer_availability(
        repositoryName=name, layerDigests=[digest_of(layer), digest_of(b"absent"), "nonsense"]
    )
    assert availability["layers"][0] == {
        "layerDigest": digest_of(layer),
        "layerAvailability": "AVAILABLE",
        "layerSize": 300_000,
    }
    assert availability["layers"][1]["layerAvailability"] == "UNAVAILABLE"
    assert availability["failures"][0]["failureCode"] == "InvalidLayerDigest"
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": descriptor(OCI_CONFIG, config),
            "layers": [descriptor(OCI_LAYER, layer)],
        }
    )
    ecr.put_image(repositoryName=name, imageManifest=manifest, imageTag="v1", imageManifestMediaType=OCI_MANIFEST)
    assert reg.get_manifest(name, "v1").content == manifest.encode()
    assert reg.request("GET", f"/v2/{name}/blobs/{digest_of(layer)}").content == layer
    url = ecr.get_download_url_for_layer(repositoryName=name, layerDigest=digest_of(layer))["downloadUrl"]
    assert httpx.get(url).content == layer


def test_layer_upload_errors(ecr: Any, new_repo: Callable[..., str]) -> None:
    name = new_repo()
    upload_id = ecr.initiate_layer_upload(repositoryName=name)["uploadId"]
    with pytest.raises(ClientError) as info:
        ecr.complete_layer_upload(repositoryName=name, uploadId=upload_id, layerDigests=[digest_of(b"")])
    assert error_of(info)[0] == "EmptyUploadException"
    ecr.upload_layer_part(
        repositoryName=name, uploadId=upload_id, partFirstByte=0, partLastByte=2, layerPartBlob=b"abc"
    )
    with pytest.raises(ClientError) as info:
        ecr.upload_layer_part(
            repositoryName=name, uploadId=upload_id, partFirstByte=10, partLastByte=12, layerPartBlob=b"def"
        )
    assert error_of(info)[0] == "InvalidLayerPartException"
    assert info.value.response.get("lastValidByteReceived") == 2
    with pytest.raises(ClientError) as info:
        ecr.complete_layer_upload(repositoryName=name, uploadId=upload_id, layerDigests=[digest_of(b"xyz")])
    assert error_of(info)[0] == "InvalidLayerException"
    with pytest.raises(ClientError) as info:
        ecr.upload_layer_part(
            repositoryName=name,
            uploadId="00000000-0000-0000-0000-000000000000",
            partFirstByte=0,
            partLastByte=0,
            layerPartBlob=b"a",
        )
    assert error_of(info)[0] == "UploadNotFoundException"
    upload(ecr, name, b"layer", 10)
    second = ecr.initiate_layer_upload(repositoryName=name)["uploadId"]
    ecr.upload_layer_part(repositoryName=name, uploadId=second, partFirstByte=0, partLastByte=4, layerPartBlob=b"layer")
    with pytest.raises(ClientError) as info:
        ecr.complete_layer_upload(repositoryName=name, uploadId=second, layerDigests=[digest_of(b"layer")])
    assert error_of(info)[0] == "LayerAlreadyExistsException"
    with pytest.raises(ClientError) as info:
        ecr.get_download_url_for_layer(repositoryName=name, layerDigest=digest_of(b"absent"))
    assert error_of(info)[0] == "LayersNotFoundException"
    with pytest.raises(ClientError) as info:
        ecr.initiate_layer_upload(repositoryName=f"{name}-missing")
    assert error_of(info)[0] == "RepositoryNotFoundException"
