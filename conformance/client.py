"""A small OCI distribution client for black-box tests: every request is plain HTTP, so the
tests show exactly what goes over the wire."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

import httpx

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
ALL_MANIFESTS = ", ".join([OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST])


def digest_of(data: bytes, algorithm: str = "sha256") -> str:
    return f"{algorithm}:{hashlib.new(algorithm, data).hexdigest()}"


def descriptor(media_type: str, data: bytes, **extra: Any) -> dict[str, Any]:
    return {"mediaType": media_type, "digest": digest_of(data), "size": len(data), **extra}


def unique_repo(prefix: str = "conformance") -> str:
    return f"{prefix}/{uuid.uuid4().hex[:12]}"


@dataclass
class Image:
    config: bytes
    layers: list[bytes]
    manifest: bytes
    media_type: str = OCI_MANIFEST

    @property
    def digest(self) -> str:
        return digest_of(self.manifest)


def make_image(layers: int = 1, size: int = 1024, media_type: str = OCI_MANIFEST, **fields: Any) -> Image:
    docker = media_type == DOCKER_MANIFEST
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": []},
            "author": uuid.uuid4().hex,
        }
    ).encode()
    blobs = [uuid.uuid4().bytes * (size // 16) for _ in range(layers)]
    manifest = {
        "schemaVersion": 2,
        "mediaType": media_type,
        "config": descriptor(DOCKER_CONFIG if docker else OCI_CONFIG, config),
        "layers": [descriptor(DOCKER_LAYER if docker else OCI_LAYER, b) for b in blobs],
        **fields,
    }
    return Image(config, blobs, json.dumps(manifest, indent="\t").encode(), media_type)


class Registry:
    def __init__(self, base_url: str, **client_args: Any) -> None:
        self.base = base_url.rstrip("/")
        # Clients follow redirects: blob GETs may be sent to the storage backend (S3).
        self.http = httpx.Client(base_url=self.base, timeout=60, follow_redirects=True, **client_args)

    def url(self, location: str) -> str:
        return urljoin(self.base + "/", location)

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return self.http.request(method, self.url(path), **kwargs)

    # -- blobs ------------------------------------------------------------------------------
    def start_upload(self, repo: str) -> str:
        response = self.request("POST", f"/v2/{repo}/blobs/uploads/")
        assert response.status_code == 202, response.text
        return response.headers["location"]

    def push_blob(self, repo: str, data: bytes, algorithm: str = "sha256") -> str:
        """POST then monolithic PUT."""
        digest = digest_of(data, algorithm)
        location = self.start_upload(repo)
        response = self.request(
            "PUT",
            location,
            params={"digest": digest},
            content=data,
            headers={"Content-Type": "application/octet-stream"},
        )
        assert response.status_code == 201, response.text
        return digest

    def push_chunked(self, repo: str, data: bytes, chunk: int) -> str:
        digest = digest_of(data)
        location = self.start_upload(repo)
        for start in range(0, len(data), chunk):
            part = data[start : start + chunk]
            response = self.request(
                "PATCH",
                location,
                content=part,
                headers={
                    "Content-Range": f"{start}-{start + len(part) - 1}",
                    "Content-Type": "application/octet-stream",
                },
            )
            assert response.status_code == 202, response.text
            location = response.headers["location"]
        response = self.request("PUT", location, params={"digest": digest})
        assert response.status_code == 201, response.text
        return digest

    def push_streamed(self, repo: str, chunks: Iterator[bytes], digest: str) -> httpx.Response:
        """PATCH with Transfer-Encoding: chunked (what docker does), then PUT."""
        location = self.start_upload(repo)
        response = self.request("PATCH", location, content=chunks, headers={"Content-Type": "application/octet-stream"})
        assert response.status_code == 202, response.text
        return self.request("PUT", response.headers["location"], params={"digest": digest})

    def push_image(self, repo: str, image: Image, reference: str | None = None) -> httpx.Response:
        for blob in [image.config, *image.layers]:
            self.push_blob(repo, blob)
        return self.put_manifest(repo, reference or image.digest, image.manifest, image.media_type)

    # -- manifests --------------------------------------------------------------------------
    def put_manifest(
        self, repo: str, reference: str, body: bytes, media_type: str = OCI_MANIFEST, **kwargs: Any
    ) -> httpx.Response:
        return self.request(
            "PUT", f"/v2/{repo}/manifests/{reference}", content=body, headers={"Content-Type": media_type}, **kwargs
        )

    def get_manifest(self, repo: str, reference: str, method: str = "GET") -> httpx.Response:
        return self.request(method, f"/v2/{repo}/manifests/{reference}", headers={"Accept": ALL_MANIFESTS})


def registry_answer(response: httpx.Response) -> httpx.Response:
    """The registry's own response: the first one when it redirected the client elsewhere (a
    blob GET answered 307 to the storage backend's presigned URL)."""
    return response.history[0] if response.history else response


def error_code(response: httpx.Response) -> str:
    return str(response.json()["errors"][0]["code"])
