"""Uploads against a real `cais serve`: large streamed bodies in flat memory, disconnects,
crashes and restarts, several workers, expiry."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx

from conformance.client import Registry, digest_of, make_image
from tests.api.rawhttp import open_chunked_patch, send_chunk
from tests.support.server import ServerProcess, wait_for

MiB = 1 << 20


def _peak_rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


PIECE = os.urandom(4 * MiB)


def _pattern(total: int, block: int = 4 * MiB) -> Iterator[bytes]:
    piece = PIECE[:block]
    for start in range(0, total, block):
        yield piece[: min(block, total - start)]


def _log_entries(server: ServerProcess) -> list[dict[str, object]]:
    return [json.loads(line) for line in server.log().splitlines() if line.startswith("{")]


def test_large_streamed_upload_keeps_memory_flat(start_server: Callable[..., ServerProcess]) -> None:
    server = start_server()
    reg = Registry(server.url)
    assert server.proc is not None
    reg.push_blob("warm/up", os.urandom(MiB))  # imports and pools settle before we measure
    before = _peak_rss(server.proc.pid)
    total = 1024 * MiB
    hasher = hashlib.sha256()
    for block in _pattern(total):
        hasher.update(block)
    digest = f"sha256:{hasher.hexdigest()}"
    response = reg.push_streamed("big/blob", _pattern(total), digest)
    assert response.status_code == 201
    growth = _peak_rss(server.proc.pid) - before
    assert growth < 16 * MiB, f"server grew by {growth / MiB:.1f} MiB for a 1 GiB upload"
    head = reg.request("HEAD", f"/v2/big/blob/blobs/{digest}")
    assert head.headers["content-length"] == str(total)
    got = hashlib.sha256()
    with reg.http.stream("GET", f"/v2/big/blob/blobs/{digest}") as stream:
        for block in stream.iter_bytes(4 * MiB):
            got.update(block)
    assert got.hexdigest() == hasher.hexdigest()


def test_disconnect_mid_patch_keeps_received_bytes_and_resumes(reg: Registry) -> None:
    repo, data = "resume/disconnect", os.urandom(3 * MiB)
    location = reg.start_upload(repo)
    sock = open_chunked_patch(reg.base, location)
    send_chunk(sock, data[:MiB])
    send_chunk(sock, data[MiB : 2 * MiB])
    time.sleep(0.3)
    sock.close()
    wait_for(lambda: reg.request("GET", location).headers.get("range") == f"0-{2 * MiB - 1}")
    assert reg.request("HEAD", f"/v2/{repo}/blobs/{digest_of(data)}").status_code == 404
    rest = reg.request(
        "PATCH", location, content=data[2 * MiB :], headers={"Content-Range": f"{2 * MiB}-{3 * MiB - 1}"}
    )
    assert rest.status_code == 202
    done = reg.request("PUT", location, params={"digest": digest_of(data)})
    assert done.status_code == 201
    assert reg.request("GET", f"/v2/{repo}/blobs/{digest_of(data)}").content == data


def test_killed_server_leaves_nothing_visible_and_upload_resumes_after_restart(
    start_server: Callable[..., ServerProcess], tmp_path: Path
) -> None:
    env = {"CAIS_UPLOADS__CHECKPOINT_BYTES": "1MiB", "CAIS_UPLOADS__LEASE": "10m"}
    server = start_server(env=env)
    reg = Registry(server.url)
    repo, data = "crash/upload", os.urandom(12 * MiB)
    location = reg.start_upload(repo)
    sock = open_chunked_patch(server.url, location)
    for start in range(0, 10 * MiB, MiB):
        send_chunk(sock, data[start : start + MiB])
    wait_for(lambda: int(reg.request("GET", location).headers["range"].split("-")[1]) >= 8 * MiB - 1)
    server.kill()
    sock.close()

    restarted = start_server(data_dir=server.data_dir, port=server.port, env=env)
    reg = Registry(restarted.url)
    assert reg.request("HEAD", f"/v2/{repo}/blobs/{digest_of(data)}").status_code == 404
    status = reg.request("GET", location)
    assert status.status_code == 204
    offset = int(status.headers["range"].split("-")[1]) + 1
    assert 8 * MiB <= offset <= 10 * MiB

    # At once: the dead writer's lease has ten minutes left, but its process is gone.
    response = reg.request(
        "PATCH", location, content=data[offset:], headers={"Content-Range": f"{offset}-{len(data) - 1}"}
    )
    assert response.status_code == 202, response.text
    assert reg.request("PUT", location, params={"digest": digest_of(data)}).status_code == 201
    assert reg.request("GET", f"/v2/{repo}/blobs/{digest_of(data)}").content == data


def test_two_workers_share_uploads_and_manifests(start_server: Callable[..., ServerProcess]) -> None:
    server = start_server(args=["--workers", "2"])
    data = os.urandom(40 * 1000)
    location = Registry(server.url).start_upload("workers/two")
    for start in range(0, len(data), 1000):
        fresh = Registry(server.url, headers={"Connection": "close"})
        response = fresh.request(
            "PATCH", location, content=data[start : start + 1000], headers={"Content-Range": f"{start}-{start + 999}"}
        )
        assert response.status_code == 202, response.text
    done = Registry(server.url).request("PUT", location, params={"digest": digest_of(data)})
    assert done.status_code == 201
    image = make_image()
    for _ in range(5):
        assert (
            Registry(server.url, headers={"Connection": "close"}).push_image("workers/two", image, "t").status_code
            == 201
        )
    for _ in range(10):
        fresh = Registry(server.url, headers={"Connection": "close"})
        assert fresh.get_manifest("workers/two", "t").content == image.manifest
        assert fresh.request("GET", f"/v2/workers/two/blobs/{digest_of(data)}").content == data
    metrics = httpx.get(f"{server.url}/metrics").text
    assert 'cais_http_requests_total{method="PATCH",route="append",status="202"} 40.0' in metrics
    served_by = {entry["pid"] for entry in _log_entries(server) if entry.get("route") == "append"}
    assert len(served_by) == 2, "both workers should have taken part"


def test_workers_share_the_connections_of_one_client(start_server: Callable[..., ServerProcess]) -> None:
    """Each worker listens on its own SO_REUSEPORT socket: the kernel spreads the keep-alive
    connections of a burst over both, instead of one worker accepting them all."""
    server = start_server(args=["--workers", "2"])
    connections = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(24)]
    for conn in connections:
        conn.sendall(b"GET /v2/ HTTP/1.1\r\nHost: cais\r\n\r\n")
    for conn in connections:
        assert conn.recv(4096).startswith(b"HTTP/1.1 200")
        conn.close()

    def served_by() -> set[object]:
        return {entry["pid"] for entry in _log_entries(server) if entry.get("route") == "version_check"}

    wait_for(lambda: len([e for e in _log_entries(server) if e.get("route") == "version_check"]) == 24)
    assert len(served_by()) == 2


def test_abandoned_uploads_expire(start_server: Callable[..., ServerProcess]) -> None:
    server = start_server(env={"CAIS_UPLOADS__EXPIRE_AFTER": "1s", "CAIS_UPLOADS__SWEEP_INTERVAL": "0.3s"})
    reg = Registry(server.url)
    location = reg.start_upload("expire/me")
    reg.request("PATCH", location, content=b"abandoned")
    wait_for(lambda: reg.request("GET", location).status_code == 404)
    assert not list((server.data_dir / "blobs" / "uploads").glob("*/data"))
