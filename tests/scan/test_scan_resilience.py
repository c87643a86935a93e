"""A scan of a 1 GiB image: streamed in bounded memory (the RSS of the serving process is
measured), and resumed by a restarted server after a crash, without reading again the layers
it had finished."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sqlite3
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from conformance.client import OCI_MANIFEST, Registry, descriptor
from tests.ecr.conftest import ecr_client
from tests.support.server import ServerProcess, free_port, wait_for

from .conftest import ADVISORIES, SCAN_ENV, cli
from .images import BuiltImage, Layer, dpkg_status, file, go_buildinfo, os_release

SIZE = 1 << 30
CHUNK = 4 << 20
MIB = 1 << 20


def big_layer() -> Iterator[bytes]:
    """A plain tar layer holding one 1 GiB Go executable, generated as it is sent: the build
    information sits at its end, so the scanner has to stream through all of it."""
    info = go_buildinfo("go1.21.0", "example.com/big", [("golang.org/x/text", "v0.3.7")])
    header = tarfile.TarInfo("usr/local/bin/big")
    header.size, header.mode = SIZE, 0o755
    yield header.tobuf()
    yield b"\x7fELF" + bytes(CHUNK - 4)
    left = SIZE - CHUNK - len(info)
    block = bytes(CHUNK)
    while left > 0:
        yield block[: min(CHUNK, left)]
        left -= CHUNK
    yield info + bytes(-SIZE % 512) + bytes(1024)


def push_streamed(reg: Registry, repository: str, chunks: Iterator[bytes]) -> dict[str, Any]:
    """PATCH with chunked transfer encoding, hashing on the way (nothing of it on disk here)."""
    hasher, size = hashlib.sha256(), 0

    def hashed() -> Iterator[bytes]:
        nonlocal size
        for chunk in chunks:
            hasher.update(chunk)
            size += len(chunk)
            yield chunk

    location = reg.start_upload(repository)
    patched = reg.request("PATCH", location, content=hashed(), headers={"Content-Type": "application/octet-stream"})
    assert patched.status_code == 202, patched.text
    digest = f"sha256:{hasher.hexdigest()}"
    assert reg.request("PUT", patched.headers["location"], params={"digest": digest}).status_code == 201
    return {"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": digest, "size": size}


def memory(pid: int) -> dict[str, int]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0]) * 1024
    return fields


def layer_rows(data_dir: Path) -> dict[str, float]:
    with sqlite3.connect(data_dir / "metadata.db") as db:
        return dict(db.execute("SELECT digest, created_at FROM scan_layers").fetchall())


def scan_state(data_dir: Path, digest: str) -> tuple[str, int] | None:
    with sqlite3.connect(data_dir / "metadata.db") as db:
        row = db.execute("SELECT status, attempts FROM scans WHERE digest = ?", (digest,)).fetchone()
    return (row[0], row[1]) if row else None


def test_a_1gib_image_in_bounded_memory_resumed_after_a_crash(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    cli(data_dir, "vulndb", "import", str(ADVISORIES / "go"), str(ADVISORIES / "debian"))
    env = {**SCAN_ENV, "CAIS_SCAN__LEASE": "6s"}
    server = ServerProcess(data_dir, free_port(), env=env).start()
    try:
        reg = Registry(server.url)
        base = BuiltImage(
            [
                Layer(
                    [
                        file("/etc/os-release", os_release("debian", "12", "Debian 12")),
                        file("/var/lib/dpkg/status", dpkg_status([("libssl3", "3.0.11-1~deb12u2", "openssl")])),
                    ]
                )
            ]
        )
        config, _, (small,) = base.build()
        reg.push_blob("big/app", config)
        reg.push_blob("big/app", small)
        big = push_streamed(reg, "big/app", big_layer())
        layers = [descriptor("application/vnd.oci.image.layer.v1.tar+gzip", small), big]
        manifest = {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": descriptor("application/vnd.oci.image.config.v1+json", config),
            "layers": layers,
        }
        body = json.dumps(manifest).encode()
        response = reg.put_manifest("big/app", "1", body)
        assert response.status_code == 201, response.text
        digest = response.headers["docker-content-digest"]
        ecr_client(server.url).start_image_scan(repositoryName="big/app", imageId={"imageTag": "1"})

        # Kill the server while it reads the big layer, once the small one is indexed.
        small_digest = layers[0]["digest"]
        wait_for(lambda: small_digest in layer_rows(data_dir), timeout=60)
        assert scan_state(data_dir, digest) == ("IN_PROGRESS", 1)
        indexed_at = layer_rows(data_dir)[small_digest]
        assert server.proc is not None
        os.killpg(server.proc.pid, signal.SIGKILL)
        server.proc.wait(10)

        # A new process takes the scan up once the dead one's lease runs out.
        server.start()
        assert server.proc is not None
        pid = server.proc.pid
        baseline = memory(pid)["VmRSS"]
        Path(f"/proc/{pid}/clear_refs").write_text("5")  # restart the peak (VmHWM) count from here
        wait_for(lambda: scan_state(data_dir, digest) == ("COMPLETE", 2), timeout=120)
        peak = memory(pid)["VmHWM"]
        print(f"serving process: {baseline / MIB:.0f} MiB before the scan, peak {peak / MIB:.0f} MiB during it")
        assert peak - baseline < 96 * MIB, (baseline, peak)
        assert layer_rows(data_dir)[small_digest] == indexed_at  # not read again
        findings = json.loads(cli(data_dir, "findings", f"big/app@{digest}", "--json").stdout)
        assert {(f["name"], f["path"]) for f in findings} == {
            ("CVE-2022-32149", "/usr/local/bin/big"),
            ("CVE-2023-5678", "/var/lib/dpkg/status"),
        }
    finally:
        server.stop()
