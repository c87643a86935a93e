"""Online garbage collection under load: pushes, re-tags and deletes run concurrently against a
real `cais serve` that collects every fraction of a second, for a bounded time. Afterwards
every manifest reachable by tag or digest pulls completely, a final collection leaves no
unreferenced blob, and metadata and storage agree (fsck)."""

from __future__ import annotations

import hashlib
import json
import os
import random
import sqlite3
import subprocess
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from conformance.client import OCI_CONFIG, OCI_LAYER, OCI_MANIFEST, Registry, descriptor
from tests.support.server import CAIS, ServerProcess

DURATION = float(os.environ.get("CAIS_STRESS_SECONDS", "20"))
REPOSITORIES = [f"stress/r{i}" for i in range(3)]
TAGS = ["a", "b", "c", "d"]
POOL = [os.urandom(random.randint(2_000, 8_000)) for _ in range(24)]


@dataclass
class Tally:
    pushes: int = 0
    retags: int = 0
    deletes: int = 0
    retries: int = 0
    failures: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, **counts: int) -> None:
        with self.lock:
            for name, value in counts.items():
                setattr(self, name, getattr(self, name) + value)

    def fail(self, what: str) -> None:
        with self.lock:
            self.failures.append(what)


def _check(tally: Tally, response: object, what: str) -> None:
    status = getattr(response, "status_code", 0)
    if status >= 500:
        tally.fail(f"{what}: {status} {getattr(response, 'text', '')[:300]}")


def push(reg: Registry, tally: Tally, rng: random.Random) -> None:
    repo, tag = rng.choice(REPOSITORIES), rng.choice(TAGS)
    layers = rng.sample(POOL, rng.randint(1, 3))
    config = json.dumps({"architecture": "amd64", "os": "linux", "nonce": uuid.uuid4().hex}).encode()
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": descriptor(OCI_CONFIG, config),
            "layers": [descriptor(OCI_LAYER, layer) for layer in layers],
        }
    ).encode()
    for attempt in range(5):
        for blob in (config, *layers):
            reg.push_blob(repo, blob)
        response = reg.put_manifest(repo, tag, manifest)
        _check(tally, response, f"PUT manifest {repo}:{tag}")
        if response.status_code == 201:
            tally.add(pushes=1, retries=attempt)
            return
        if response.json()["errors"][0]["code"] != "MANIFEST_BLOB_UNKNOWN":
            tally.fail(f"PUT manifest {repo}:{tag}: {response.status_code} {response.text[:300]}")
            return
    tally.fail(f"PUT manifest {repo}:{tag} kept failing with MANIFEST_BLOB_UNKNOWN")


def retag(reg: Registry, tally: Tally, rng: random.Random) -> None:
    repo = rng.choice(REPOSITORIES)
    source, target = rng.sample(TAGS, 2)
    found = reg.get_manifest(repo, source)
    _check(tally, found, f"GET {repo}:{source}")
    if found.status_code == 200:
        response = reg.put_manifest(repo, target, found.content, found.headers["content-type"])
        _check(tally, response, f"retag {repo}:{target}")
        tally.add(retags=1)


def delete(reg: Registry, tally: Tally, rng: random.Random) -> None:
    repo, tag = rng.choice(REPOSITORIES), rng.choice(TAGS)
    found = reg.get_manifest(repo, tag, method="HEAD")
    if found.status_code != 200:
        return
    reference = found.headers["docker-content-digest"] if rng.random() < 0.5 else tag
    response = reg.request("DELETE", f"/v2/{repo}/manifests/{reference}")
    _check(tally, response, f"DELETE {repo}/{reference}")
    tally.add(deletes=1)


def worker(url: str, tally: Tally, stop: threading.Event, action: Callable[..., None], seed: int) -> None:
    reg, rng = Registry(url), random.Random(seed)
    while not stop.is_set():
        try:
            action(reg, tally, rng)
        except Exception as exc:
            tally.fail(f"{action.__name__}: {exc!r}")


def pulls_completely(reg: Registry, repo: str, reference: str) -> None:
    found = reg.get_manifest(repo, reference)
    assert found.status_code == 200, (repo, reference, found.text)
    manifest = json.loads(found.content)
    for entry in [manifest["config"], *manifest["layers"]]:
        blob = reg.request("GET", f"/v2/{repo}/blobs/{entry['digest']}")
        assert blob.status_code == 200, (repo, reference, entry["digest"], blob.text)
        assert f"sha256:{hashlib.sha256(blob.content).hexdigest()}" == entry["digest"]


def test_collection_during_pushes_retags_and_deletes(start_server: Callable[..., ServerProcess]) -> None:
    server = start_server(
        env={"CAIS_GC__INTERVAL": "0.2", "CAIS_GC__GRACE": "1", "CAIS_LIFECYCLE__ENABLED": "false"},
        args=["--workers", "2"],
    )
    tally, stop = Tally(), threading.Event()
    plan = [push, push, push, retag, delete, delete]
    threads = [
        threading.Thread(target=worker, args=(server.url, tally, stop, action, seed))
        for seed, action in enumerate(plan)
    ]
    for thread in threads:
        thread.start()
    time.sleep(DURATION)
    stop.set()
    for thread in threads:
        thread.join(timeout=120)
    assert not tally.failures, tally.failures[:10]
    assert tally.pushes > 20 and tally.deletes > 5, tally
    collections = [
        entry["result"]
        for entry in (json.loads(line) for line in server.log().splitlines() if line.startswith("{"))
        if entry.get("job") == "garbage collection"
    ]
    assert any("blobs=0," not in result for result in collections), "the collector never deleted a blob meanwhile"
    print(
        f"{tally.pushes} pushes ({tally.retries} retried), {tally.retags} retags, {tally.deletes} deletes; collections:"
    )
    print("\n".join(collections[-5:]))

    data = ["--data-dir", str(server.data_dir)]
    subprocess.run([*CAIS, "gc", "--grace", "0", *data], check=True, capture_output=True, timeout=300)

    reg = Registry(server.url)
    with sqlite3.connect(server.data_dir / "metadata.db") as db:
        images = db.execute(
            "SELECT r.name, m.digest FROM manifests m JOIN repositories r ON r.id = m.repository_id"
        ).fetchall()
        tagged = db.execute(
            "SELECT r.name, t.name FROM tags t JOIN repositories r ON r.id = t.repository_id"
        ).fetchall()
        stored = {row[0] for row in db.execute("SELECT digest FROM blobs")}
        referenced = {row[0] for row in db.execute("SELECT child FROM manifest_references WHERE kind = 'blob'")}
    assert images and tagged
    for repo, digest in images:
        pulls_completely(reg, repo, digest)
    for repo, tag in tagged:
        pulls_completely(reg, repo, tag)
    assert stored == referenced, "after a final collection every blob left is referenced, and only those"
    fsck = subprocess.run([*CAIS, "fsck", *data], capture_output=True, text=True, timeout=300)
    assert fsck.returncode == 0, fsck.stdout + fsck.stderr
