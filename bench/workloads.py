"""The workloads of the benchmark. Each has an untimed `prepare` (generating and hashing data,
seeding the server) and a timed `run` whose server CPU, peak memory and client CPU the runner
records. Both servers get the same calls."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import random
import re
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import uvloop

from .client import AsyncConnection, Connection, Response
from .servers import ROOT, Server, free_port

MiB = 1 << 20
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
HOST = "127.0.0.1"
WEBHOOKS = ("bench-1", "bench-2", "bench-3")


@dataclass(frozen=True)
class Sizes:
    large: int = 512 * MiB
    chunk: int = 16 * MiB
    images: int = 200
    layer: int = 64 << 10
    push_concurrency: int = 16
    pull_concurrency: int = 32
    pull_passes: int = 6
    wrk_seconds: int = 10
    wrk_connections: int = 32
    tags: int = 1000
    page: int = 100
    list_passes: int = 20
    limit_bytes: int = 1024 * MiB


SMOKE = Sizes(
    large=4 * MiB,
    chunk=1 * MiB,
    images=6,
    layer=4 << 10,
    push_concurrency=3,
    pull_concurrency=4,
    pull_passes=1,
    wrk_seconds=1,
    wrk_connections=4,
    tags=25,
    page=10,
    list_passes=1,
    limit_bytes=16 * MiB,
)


@dataclass
class Outcome:
    units: float  # in the case's unit of work: MiB, images or requests
    seconds: float | None = None  # when the workload timed itself; else the runner's wall time
    p50_ms: float | None = None
    p99_ms: float | None = None
    requests: int | None = None  # CPU is per request when the units are not requests


@dataclass(frozen=True)
class Case:
    name: str
    rate_unit: str  # e.g. MiB/s
    cpu_unit: str  # e.g. s/GiB: server CPU per unit of work
    cpu_scale: float  # CPU seconds per unit of work times this = the value shown in cpu_unit
    prepare: Callable[[Server, Sizes, int], Any]
    run: Callable[[Server, Sizes, Any], Outcome]
    pushes: bool = False
    limit: str = ""  # which machine limits bound it
    notes: list[str] = field(default_factory=list)


def _expect(response: Response, *statuses: int) -> Response:
    if response.status not in statuses:
        raise RuntimeError(f"unexpected HTTP {response.status} (wanted {statuses}): {response.body[:300]!r}")
    return response


def _location(response: Response) -> str:
    """The Location header as a path (Distribution answers absolute URLs)."""
    parts = urlsplit(response.header("location"))
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _with_digest(location: str, digest: str) -> str:
    return f"{location}{'&' if '?' in location else '?'}digest={digest}"


def _sha256(data: bytes | bytearray | memoryview) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


# -- large blobs --------------------------------------------------------------------------------
_large: dict[int, bytearray] = {}


def _large_blob(sizes: Sizes, server: Server, rep: int, style: str) -> tuple[str, bytearray, str]:
    """A distinct blob for every push (no server can skip work it already did)."""
    buf = _large.get(sizes.large)
    if buf is None:
        buf = _large[sizes.large] = bytearray(os.urandom(sizes.large))
    buf[:32] = hashlib.sha256(f"{server.name}/{rep}/{style}/{time.time()}".encode()).digest()
    return f"large/{style}-r{rep}", buf, _sha256(buf)


def prepare_push_large(server: Server, sizes: Sizes, rep: int) -> tuple[str, bytearray, str]:
    return _large_blob(sizes, server, rep, "whole")


def run_push_large(server: Server, sizes: Sizes, blob: tuple[str, bytearray, str]) -> Outcome:
    repo, data, digest = blob
    conn = Connection(HOST, server.port)
    try:
        started = _expect(conn.request("POST", f"/v2/{repo}/blobs/uploads/"), 202)
        _expect(conn.request("PUT", _with_digest(_location(started), digest), body=memoryview(data)), 201)
    finally:
        conn.close()
    server.state["large"] = (repo, digest, len(data))
    return Outcome(len(data) / MiB)


def prepare_push_chunked(server: Server, sizes: Sizes, rep: int) -> tuple[str, bytearray, str]:
    return _large_blob(sizes, server, rep, "chunked")


def run_push_chunked(server: Server, sizes: Sizes, blob: tuple[str, bytearray, str]) -> Outcome:
    repo, data, digest = blob
    view = memoryview(data)
    conn = Connection(HOST, server.port)
    try:
        location = _location(_expect(conn.request("POST", f"/v2/{repo}/blobs/uploads/"), 202))
        for start in range(0, len(data), sizes.chunk):
            chunk = view[start : start + sizes.chunk]
            headers = {"Content-Range": f"{start}-{start + len(chunk) - 1}", "Content-Type": "application/octet-stream"}
            location = _location(_expect(conn.request("PATCH", location, headers, chunk), 202))
        _expect(conn.request("PUT", _with_digest(location, digest)), 201)
    finally:
        conn.close()
    return Outcome(len(data) / MiB)


def prepare_pull(server: Server, sizes: Sizes, rep: int) -> tuple[str, str, int]:
    """The blob push_large stored, read once untimed: pulls are measured from the page cache,
    whatever the pushes in between evicted."""
    blob: tuple[str, str, int] = server.state["large"]
    run_pull_large(server, sizes, blob)
    return blob


def _pull(server: Server, path: str, headers: dict[str, str], expected_status: int, expected_length: int) -> None:
    conn = Connection(HOST, server.port)
    try:
        conn.sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {conn.host}\r\n".encode())
        conn.sock.sendall("".join(f"{k}: {v}\r\n" for k, v in headers.items()).encode() + b"\r\n")
        response = conn.read_response("HEAD")  # the head only; the body is drained below
        _expect(response, expected_status)
        if int(response.header("content-length")) != expected_length:
            raise RuntimeError(
                f"expected {expected_length} bytes, server announced {response.header('content-length')}"
            )
        conn.discard(expected_length)
    finally:
        conn.close()


def run_pull_large(server: Server, sizes: Sizes, blob: tuple[str, str, int]) -> Outcome:
    repo, digest, size = blob
    _pull(server, f"/v2/{repo}/blobs/{digest}", {}, 200, size)
    return Outcome(size / MiB)


def run_pull_range(server: Server, sizes: Sizes, blob: tuple[str, str, int]) -> Outcome:
    """The middle half of the blob."""
    repo, digest, size = blob
    first, last = size // 4, 3 * size // 4 - 1
    _pull(server, f"/v2/{repo}/blobs/{digest}", {"Range": f"bytes={first}-{last}"}, 206, last - first + 1)
    return Outcome((last - first + 1) / MiB)


# -- many small images --------------------------------------------------------------------------
@dataclass
class Image:
    repo: str
    blobs: list[tuple[str, bytes]]  # config first, then layers
    manifest: bytes
    digest: str


def _image(repo: str, index: int, layer_size: int) -> Image:
    layers = [os.urandom(layer_size) for _ in range(2)]
    config = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers"}, "n": repo}).encode()
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": _sha256(config), "size": len(config)},
            "layers": [{"mediaType": OCI_LAYER, "digest": _sha256(b), "size": len(b)} for b in layers],
        }
    ).encode()
    blobs = [(_sha256(b), b) for b in [config, *layers]]
    return Image(repo, blobs, manifest, _sha256(manifest))


async def _pool(
    concurrency: int, jobs: Iterator[Any], work: Callable[[AsyncConnection, Any], Awaitable[None]], port: int
) -> None:
    """`concurrency` connections taking jobs from one shared iterator until it runs dry."""

    async def worker() -> None:
        conn = await AsyncConnection.open(HOST, port)
        try:
            for job in jobs:
                await work(conn, job)
        finally:
            await conn.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))


def prepare_push_many(server: Server, sizes: Sizes, rep: int) -> list[Image]:
    return [_image(f"many-r{rep}/img-{i:04d}", i, sizes.layer) for i in range(sizes.images)]


async def _push_image(conn: AsyncConnection, image: Image, tag: str = "v1") -> None:
    """What a client does: HEAD each blob, POST+PUT the missing ones, then PUT the manifest."""
    for digest, data in image.blobs:
        if (await conn.request("HEAD", f"/v2/{image.repo}/blobs/{digest}")).status == 200:
            continue
        started = _expect(await conn.request("POST", f"/v2/{image.repo}/blobs/uploads/"), 202)
        headers = {"Content-Type": "application/octet-stream"}
        _expect(await conn.request("PUT", _with_digest(_location(started), digest), headers, data), 201)
    headers = {"Content-Type": OCI_MANIFEST}
    _expect(await conn.request("PUT", f"/v2/{image.repo}/manifests/{tag}", headers, image.manifest), 201)


def run_push_many(server: Server, sizes: Sizes, images: list[Image]) -> Outcome:
    uvloop.run(_pool(sizes.push_concurrency, iter(images), _push_image, server.port))
    server.state["images"] = images
    return Outcome(len(images))


def prepare_push_many_hooks(server: Server, sizes: Sizes, rep: int) -> list[Image]:
    """push_many, with three webhook subscriptions on Cais (delivered meanwhile to a receiver
    process): what the outbox costs a push. Distribution runs plain push_many again: its
    notifications are configured at start and would weigh on every other workload."""
    if server.name == "Cais":
        if not server.helpers:
            server.state["receiver"] = free_port()
            command = [sys.executable, "-m", "bench.receiver", str(server.state["receiver"])]
            server.helpers.append(subprocess.Popen(command, cwd=ROOT))
        url = f"http://{HOST}:{server.state['receiver']}/hook"
        for name in WEBHOOKS:
            body = json.dumps({"name": name, "url": url}).encode()
            _expect(_api(server, "POST", "/api/v1/webhooks", body), 201)
    return [_image(f"hooks-r{rep}/img-{i:04d}", i, sizes.layer) for i in range(sizes.images)]


def run_push_many_hooks(server: Server, sizes: Sizes, images: list[Image]) -> Outcome:
    outcome = run_push_many(server, sizes, images)
    if server.name == "Cais":  # the other workloads run without them (a few ms, timed)
        for name in WEBHOOKS:
            _expect(_api(server, "DELETE", f"/api/v1/webhooks/{name}"), 204)
    return outcome


def _api(server: Server, method: str, path: str, body: bytes = b"") -> Response:
    conn = Connection(HOST, server.port)
    try:
        return conn.request(method, path, {"Content-Type": "application/json"}, body)
    finally:
        conn.close()


def prepare_pull_many(server: Server, sizes: Sizes, rep: int) -> list[tuple[str, str]]:
    """HEAD by tag and GET by digest of every manifest, and HEAD of every blob, shuffled."""
    calls = []
    for image in server.state["images"]:
        calls += [("HEAD", f"/v2/{image.repo}/manifests/v1"), ("GET", f"/v2/{image.repo}/manifests/{image.digest}")]
        calls += [("HEAD", f"/v2/{image.repo}/blobs/{digest}") for digest, _ in image.blobs]
    calls *= sizes.pull_passes
    random.Random(rep).shuffle(calls)
    return calls


def _percentile(sorted_values: list[float], fraction: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(fraction * len(sorted_values)))]


def run_pull_many(server: Server, sizes: Sizes, calls: list[tuple[str, str]]) -> Outcome:
    latencies: list[float] = []
    accept = {"Accept": OCI_MANIFEST}

    async def call(conn: AsyncConnection, job: tuple[str, str]) -> None:
        started = time.perf_counter()
        _expect(await conn.request(job[0], job[1], accept), 200)
        latencies.append(time.perf_counter() - started)

    began = time.perf_counter()
    uvloop.run(_pool(sizes.pull_concurrency, iter(calls), call, server.port))
    seconds = time.perf_counter() - began
    latencies.sort()
    return Outcome(len(calls), seconds, _percentile(latencies, 0.5) * 1000, _percentile(latencies, 0.99) * 1000)


# -- wrk ----------------------------------------------------------------------------------------
def prepare_wrk(server: Server, sizes: Sizes, rep: int) -> str:
    image: Image = server.state["images"][0]
    return f"http://{HOST}:{server.port}/v2/{image.repo}/manifests/v1"


_WRK_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def _wrk_latency(output: str, label: str) -> float:
    match = re.search(rf"^\s*{label}%\s+([\d.]+)(us|ms|s)\s*$", output, re.MULTILINE)
    if not match:
        raise RuntimeError(f"no {label}% latency in wrk output:\n{output}")
    return float(match.group(1)) * _WRK_UNITS[match.group(2)]


def run_wrk(server: Server, sizes: Sizes, url: str) -> Outcome:
    command = ["wrk", "-t2", f"-c{sizes.wrk_connections}", f"-d{sizes.wrk_seconds}s", "--latency"]
    command += ["-H", f"Accept: {OCI_MANIFEST}", url]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    total = re.search(r"(\d+) requests in ([\d.]+)(ms|s)", output)
    if not total or "Non-2xx" in output:
        raise RuntimeError(f"wrk failed:\n{output}")
    seconds = float(total.group(2)) / (1000 if total.group(3) == "ms" else 1)
    return Outcome(int(total.group(1)), seconds, _wrk_latency(output, "50"), _wrk_latency(output, "99"))


# -- tags and catalog ---------------------------------------------------------------------------
TAGS_REPO = "tags/many"


async def _seed_tags(port: int, count: int) -> None:
    image = _image(TAGS_REPO, 0, 1024)
    conn = await AsyncConnection.open(HOST, port)
    try:
        await _push_image(conn, image, "t00000")
    finally:
        await conn.close()

    async def tag(conn: AsyncConnection, name: str) -> None:
        path = f"/v2/{TAGS_REPO}/manifests/{name}"
        _expect(await conn.request("PUT", path, {"Content-Type": OCI_MANIFEST}, image.manifest), 201)

    await _pool(16, iter(f"t{i:05d}" for i in range(1, count)), tag, port)


def _walk(server: Server, first: str, key: str, page: int) -> tuple[int, int]:
    """Follow n/last pages to the end; (requests, names listed). A server that ignores `n`
    (Distribution 2.8 does for tags) answers everything at once, which ends the walk too."""
    conn = Connection(HOST, server.port)
    requests = listed = 0
    try:
        path = f"{first}?n={page}"
        while requests < 100_000:
            names = json.loads(_expect(conn.request("GET", path), 200).body)[key] or []
            requests += 1
            listed += len(names)
            if len(names) != page:
                return requests, listed
            path = f"{first}?n={page}&last={names[-1]}"
        raise RuntimeError(f"{server.name}: {first} pages never end")
    finally:
        conn.close()


def prepare_tags(server: Server, sizes: Sizes, rep: int) -> None:
    if not server.state.get("tags"):
        uvloop.run(_seed_tags(server.port, sizes.tags))
        server.state["tags"] = True


def run_tags(server: Server, sizes: Sizes, _: None) -> Outcome:
    """The whole list in one request (no `n`), as both servers answer it alike."""
    conn = Connection(HOST, server.port)
    try:
        for _pass in range(sizes.list_passes):
            listed = json.loads(_expect(conn.request("GET", f"/v2/{TAGS_REPO}/tags/list"), 200).body)["tags"]
            if len(listed) != sizes.tags:
                raise RuntimeError(f"{server.name} listed {len(listed)} tags, not {sizes.tags}")
    finally:
        conn.close()
    return Outcome(sizes.tags * sizes.list_passes, requests=sizes.list_passes)


def run_tags_paged(server: Server, sizes: Sizes, _: None) -> Outcome:
    """Page requests answered per second: what a client listing n at a time waits for. Both
    servers list every tag; Distribution in one answer, since it ignores `n` for tags."""
    requests = 0
    for _pass in range(sizes.list_passes):
        count, listed = _walk(server, f"/v2/{TAGS_REPO}/tags/list", "tags", sizes.page)
        if listed != sizes.tags:
            raise RuntimeError(f"{server.name} listed {listed} tags, not {sizes.tags}")
        requests += count
    return Outcome(requests, requests=requests)


def run_catalog(server: Server, sizes: Sizes, _: None) -> Outcome:
    requests = listed = 0
    for _pass in range(sizes.list_passes):
        count, names = _walk(server, "/v2/_catalog", "repositories", sizes.page)
        requests, listed = requests + count, listed + names
    return Outcome(listed, requests=requests)


def _nothing(server: Server, sizes: Sizes, rep: int) -> None:
    return None


CASES = [
    Case("push_large", "MiB/s", "s/GiB", 1024, prepare_push_large, run_push_large, True, "sha256, disk"),
    Case("push_chunked", "MiB/s", "s/GiB", 1024, prepare_push_chunked, run_push_chunked, True, "sha256, disk"),
    Case("pull_large", "MiB/s", "s/GiB", 1024, prepare_pull, run_pull_large, False, "loopback"),
    Case("pull_range", "MiB/s", "s/GiB", 1024, prepare_pull, run_pull_range, False, "loopback"),
    Case("push_many", "images/s", "ms/image", 1e3, prepare_push_many, run_push_many, True),
    Case("pull_many", "req/s", "µs/req", 1e6, prepare_pull_many, run_pull_many),
    Case("wrk", "req/s", "µs/req", 1e6, prepare_wrk, run_wrk),
    Case("tags", "tags/s", "µs/req", 1e6, prepare_tags, run_tags),
    Case("tags_paged", "pages/s", "µs/req", 1e6, prepare_tags, run_tags_paged),
    Case("catalog", "names/s", "µs/req", 1e6, _nothing, run_catalog),
    Case("push_many_hooks", "images/s", "ms/image", 1e3, prepare_push_many_hooks, run_push_many_hooks, True),
]
