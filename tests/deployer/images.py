"""Runnable images built in Python, no docker build: Debian's static busybox as the base layer
(busybox has httpd, wget and sh) and a small layer with the page a version serves."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from functools import cache
from pathlib import Path

from conformance.client import Image, Registry, descriptor
from conformance.clienttools import busybox_rootfs

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"


@cache
def _base(workdir: str) -> bytes:
    return busybox_rootfs(Path(workdir) / "busybox.tar").read_bytes()


def _page_layer(version: str) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for directory in ("www",):
            info = tarfile.TarInfo(directory)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(info)
        body = f"version {version}\n".encode()
        info = tarfile.TarInfo("www/index.html")
        info.size, info.mode = len(body), 0o644
        tar.addfile(info, io.BytesIO(body))
    return buffer.getvalue()


def web_image(workdir: Path, version: str) -> Image:
    """busybox httpd serving "version <version>" from /www on 127.0.0.1:$PORT."""
    layers = [_base(str(workdir)), _page_layer(version)]
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {
                "Env": ["PATH=/bin"],
                "Cmd": ["sh", "-c", "echo serving version $VERSION on $PORT; exec httpd -f -p 127.0.0.1:$PORT -h /www"],
            },
            "rootfs": {
                "type": "layers",
                "diff_ids": ["sha256:" + hashlib.sha256(layer).hexdigest() for layer in layers],
            },
        }
    ).encode()
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": descriptor(OCI_CONFIG, config),
        "layers": [descriptor(OCI_LAYER, layer) for layer in layers],
    }
    return Image(config, layers, json.dumps(manifest).encode(), OCI_MANIFEST)


def push(registry: Registry, repository: str, tag: str, image: Image) -> str:
    response = registry.push_image(repository, image, tag)
    assert response.status_code == 201, response.text
    return image.digest
