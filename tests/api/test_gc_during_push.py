"""A push that checks a blob (HEAD) before its manifest refers to it keeps that blob from the
garbage collector, even a blob an earlier push left unused for most of the grace period."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import time
from collections.abc import Callable

from conformance.client import OCI_CONFIG, OCI_LAYER, OCI_MANIFEST, Registry, descriptor
from tests.support.server import CAIS, ServerProcess


def test_a_blob_seen_by_head_survives_a_collection_before_the_manifest(
    start_server: Callable[..., ServerProcess],
) -> None:
    server = start_server(env={"CAIS_GC__ENABLED": "false", "CAIS_LIFECYCLE__ENABLED": "false"})
    reg = Registry(server.url)
    config, layer = json.dumps({"os": "linux"}).encode(), os.urandom(5000)
    for blob in (config, layer):
        reg.push_blob("race/app", blob)
    with sqlite3.connect(server.data_dir / "metadata.db") as db:  # unused for 2000 s; the grace is 3600
        db.execute("UPDATE repository_blobs SET created_at = ?", (time.time() - 2000,))
    for blob in (config, layer):  # the client's check before it pushes the manifest
        assert reg.request("HEAD", f"/v2/race/app/blobs/{descriptor(OCI_LAYER, blob)['digest']}").status_code == 200
    # A collection with a shorter grace stands for time passing until the manifest arrives.
    subprocess.run([*CAIS, "gc", "--grace", "1900", "--data-dir", str(server.data_dir)], check=True, timeout=120)
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": descriptor(OCI_CONFIG, config),
        "layers": [descriptor(OCI_LAYER, layer)],
    }
    response = reg.put_manifest("race/app", "v1", json.dumps(manifest).encode())
    assert response.status_code == 201, response.text
