"""`python -m bench.console`: how fast the web console's pages answer on a registry of 10,000
images on SQLite (the target: under 100 ms each). Distribution has no console, so this is Cais
alone: one markdown table, a row per page, latency percentiles over sequential requests of a
logged-in administrator (so every page also evaluates the permission rules).

The registry is seeded in process through the metadata store (untimed): half the images in one
repository (`big/app`, one tag each), the other half spread over up to 100 repositories, all
sharing three real blobs; the big repository also gets a lifecycle preview of all its images.
Then `cais serve` starts on it with the console and authentication on, and each page is
requested `--requests` times after a few untimed warm-up requests.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from registry.auth import enrol
from registry.config import load
from storage import actor
from storage.accounts import AccountStore
from storage.digest import Digest
from storage.drivers.filesystem import FilesystemDriver
from storage.keys import blob_key
from storage.lifecycle.runner import Lifecycle
from storage.manifest_format import OCI_MANIFEST, parse
from storage.metadata import blobs, manifests, migrate, repositories, tags
from storage.metadata.engine import Database
from storage.permission_store import PermissionStore
from storage.repository_store import RepositoryStore

from .servers import Cais

ADMIN, PASSWORD = "bench-admin", "bench admin password"
BIG = "big/app"
POLICY = json.dumps(
    {
        "rules": [
            {
                "rulePriority": 1,
                "description": "keep the newest 100",
                "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 100},
                "action": {"type": "expire"},
            }
        ]
    }
)
TARGET_MS = 100.0
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
Descriptor = dict[str, Any]


@dataclass(frozen=True)
class Seeded:
    images: int
    repositories: list[str]
    big_digests: list[str]  # newest first


def _blob(driver: FilesystemDriver, data: bytes) -> Descriptor:
    digest = Digest.of(data)
    driver.put(blob_key(digest), data)
    return {"mediaType": OCI_LAYER, "digest": str(digest), "size": len(data)}


def _manifest(config: Descriptor, layers: list[Descriptor], name: str) -> bytes:
    """An image of the shared blobs, made distinct by an annotation."""
    doc = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {**config, "mediaType": OCI_CONFIG},
        "layers": layers,
        "annotations": {"bench.image": name},
    }
    return json.dumps(doc).encode()


def _layout(images: int) -> dict[str, int]:
    """Half the images in BIG, the other half over up to 100 repositories."""
    layout = {BIG: images // 2}
    rest = images - images // 2
    others = max(1, min(100, rest // 10))
    layout.update({f"team-{number:03d}/service": rest // others for number in range(others)})
    return layout


def _fill(db: Database, name: str, count: int, blobs_used: list[Descriptor]) -> list[str]:
    """`count` images tagged v0, v1... in repository `name` (one transaction); their digests."""
    digests = []
    with actor.acting(actor.Actor("user", ADMIN)), db.write() as conn:
        repository_id = repositories.for_push(conn, name, create_on_push=True)
        for blob in blobs_used:
            blobs.record(conn, blob["digest"], blob["size"])
            blobs.link(conn, repository_id, blob["digest"])
        for number in range(count):
            body = _manifest(blobs_used[0], blobs_used[1:], f"{name}:{number}")
            digest = str(Digest.of(body))
            manifests.store(conn, repository_id, digest, body, parse(body, OCI_MANIFEST))
            tags.put(conn, repository_id, f"v{number}", digest, None)
            digests.append(digest)
    return digests


def seed(data_dir: Path, images: int) -> Seeded:
    """The images of _layout, an administrator, and a lifecycle preview of BIG."""
    settings = load(None, {"server": {"data_dir": str(data_dir)}})
    db = Database(settings.metadata_url)
    migrate.upgrade(db)
    driver = FilesystemDriver(settings.blob_root)
    config = json.dumps({"architecture": "amd64", "os": "linux", "config": {"Labels": {"bench": "yes"}}}).encode()
    shared = [_blob(driver, config), _blob(driver, os.urandom(64 << 10)), _blob(driver, os.urandom(64 << 10))]
    layout = _layout(images)
    big_digests: list[str] = []
    for name, count in layout.items():
        filled = _fill(db, name, count, shared)
        big_digests = filled if name == BIG else big_digests
    AccountStore(db).create(enrol.user(ADMIN, PASSWORD))
    PermissionStore(db).grant("user", ADMIN, "*", frozenset({"admin"}))
    RepositoryStore(db).set_policy(BIG, "lifecycle_policy", POLICY)
    Lifecycle(db).preview(BIG)
    db.dispose()
    return Seeded(sum(layout.values()), sorted(layout), big_digests[::-1])


def pages(seeded: Seeded) -> list[tuple[str, str, dict[str, str]]]:
    """(what, path, headers) of every page measured."""
    big = f"/ui/repositories/{BIG}"
    middle = seeded.big_digests[len(seeded.big_digests) // 2]
    page_two = seeded.repositories[min(49, len(seeded.repositories) - 1)]
    htmx = {"HX-Request": "true"}
    return [
        ("repositories, first page", "/ui/repositories", {}),
        ("repositories, a later page", f"/ui/repositories?after={page_two}", {}),
        ("repositories, search", "/ui/repositories?q=team-00", htmx),
        (f"images of {BIG}, newest", big, {}),
        (f"images of {BIG}, a middle page", f"{big}?before=9e99_{middle}", {}),
        (f"images of {BIG}, tag search", f"{big}?q=v{len(seeded.big_digests) // 3}", htmx),
        ("one image", f"{big}/-/images/{middle}", {}),
        ("tag history", f"{big}/-/history", {}),
        ("lifecycle, preview of every image", f"{big}/-/lifecycle", {}),
        ("settings", f"{big}/-/settings", {}),
        ("live activity (htmx poll)", f"{big}/-/activity", htmx),
        ("access: users", "/ui/access/users", {}),
    ]


def measure(url: str, seeded: Seeded, requests: int) -> list[tuple[str, list[float]]]:
    results = []
    with httpx.Client(base_url=url, timeout=60) as client:
        page = client.get("/ui/login")
        token = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        form = {"csrf": token, "name": ADMIN, "password": PASSWORD, "next": "/ui/repositories"}
        assert client.post("/ui/login", data=form).status_code == 303
        for what, path, headers in pages(seeded):
            for _ in range(3):
                assert client.get(path, headers=headers).status_code == 200, path
            times = []
            for _ in range(requests):
                started = time.perf_counter()
                response = client.get(path, headers=headers)
                times.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200, path
            results.append((what, times))
    return results


def table(results: list[tuple[str, list[float]]]) -> str:
    lines = ["| page | p50 ms | p95 ms | max ms | under 100 ms |", "|---|---:|---:|---:|---|"]
    for what, times in results:
        ordered = sorted(times)
        p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
        verdict = "yes" if p95 < TARGET_MS else "**no**"
        lines.append(f"| {what} | {statistics.median(times):.1f} | {p95:.1f} | {max(times):.1f} | {verdict} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.console", description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=10_000, help="images in the registry (default 10,000)")
    parser.add_argument("--requests", type=int, default=30, help="timed requests per page (default 30)")
    parser.add_argument("--workers", type=int, default=2, help="Cais worker processes (default 2)")
    parser.add_argument("--smoke", action="store_true", help="100 images, 2 requests, 1 worker: the harness works")
    parser.add_argument("--work-dir", metavar="DIR", help="where the registry keeps its data (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args(argv)
    images, requests, workers = (100, 2, 1) if args.smoke else (args.images, args.requests, args.workers)
    work_dir = Path(args.work_dir or tempfile.mkdtemp(prefix="cais-bench-console-"))
    work_dir.mkdir(parents=True, exist_ok=True)
    server = Cais(work_dir, workers)
    server.probe = "/healthz"
    try:
        print(f"seeding {images} images...", file=sys.stderr)
        started = time.monotonic()
        seeded = seed(server.dir / "data", images)
        print(f"seeded in {time.monotonic() - started:.0f}s; starting cais serve", file=sys.stderr)
        # The lifecycle job would apply the policy at start: only its preview is wanted here.
        os.environ.update(
            {"CAIS_AUTH__ENABLED": "true", "CAIS_UI__ENABLED": "true", "CAIS_LIFECYCLE__ENABLED": "false"}
        )
        server.start()
        results = measure(f"http://127.0.0.1:{server.port}", seeded, requests)
    finally:
        server.stop()
        if not args.keep:
            shutil.rmtree(work_dir, ignore_errors=True)
    print(
        f"Console pages on SQLite: {seeded.images:,} images ({len(seeded.big_digests):,} in {BIG}, the rest over "
        f"{len(seeded.repositories) - 1} repositories), Cais with {workers} worker(s), {requests} sequential "
        "requests per page, logged in as an administrator.\n"
    )
    print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
