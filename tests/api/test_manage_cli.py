"""The management commands against the data directory of a running registry."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable

from conformance.client import Registry, make_image
from tests.support.server import CAIS, ServerProcess


def cais(server: ServerProcess, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    command = [*CAIS, *args, "--data-dir", str(server.data_dir)]
    return subprocess.run(command, capture_output=True, text=True, check=check, timeout=120)


def test_repo_and_image_commands(start_server: Callable[..., ServerProcess]) -> None:
    server = start_server()
    reg = Registry(server.url)
    created = json.loads(
        cais(server, "repo", "create", "cli/app", "--tag-mutability", "IMMUTABLE", "--label", "team=web").stdout
    )
    assert created["tagMutability"] == "IMMUTABLE" and created["tags"] == {"team": "web"}
    image = make_image(layers=2, size=2048)
    assert reg.push_image("cli/app", image, "v1").status_code == 201
    assert reg.push_image("cli/app", make_image(), "v1").status_code == 400, "the repository is immutable"
    listed = cais(server, "repo", "list").stdout
    assert "cli/app" in listed and "IMMUTABLE" in listed
    images = cais(server, "image", "list", "cli/app").stdout.splitlines()
    assert len(images) == 2 and images[1].startswith(image.digest) and " v1 " in images[1]
    changed = json.loads(cais(server, "repo", "set", "cli/app", "--tag-mutability", "MUTABLE", "--scan-on-push").stdout)
    assert changed["tagMutability"] == "MUTABLE" and changed["scanOnPush"] is True
    assert json.loads(cais(server, "repo", "show", "cli/app").stdout)["images"] == 1
    refused = cais(server, "repo", "delete", "cli/app", check=False)
    assert refused.returncode == 1 and "still contains 1 image" in refused.stderr
    cais(server, "repo", "delete", "cli/app", "--force")
    assert reg.get_manifest("cli/app", "v1").status_code == 404
    missing = cais(server, "repo", "show", "cli/app", check=False)
    assert missing.returncode == 1 and "not known" in missing.stderr


def test_gc_dry_run_shows_what_and_how_much(start_server: Callable[..., ServerProcess]) -> None:
    server = start_server(env={"CAIS_GC__ENABLED": "false"})
    reg = Registry(server.url)
    image = make_image(layers=1, size=4096)
    reg.push_image("cli/gc", image, "v1")
    reg.request("DELETE", f"/v2/cli/gc/manifests/{image.digest}")
    dry = cais(server, "gc", "--dry-run", "--grace", "0").stdout
    assert "would remove 2 unused links, 2 blobs (4.1 KiB), 1 manifest bodies" in dry
    assert "delete   sha256:" in dry and "manifest body " + image.digest in dry
    done = cais(server, "gc", "--grace", "0").stdout
    assert "removed 2 links, 2 blobs (4.1 KiB freed), 1 manifest bodies" in done
    assert cais(server, "fsck").stdout.strip().endswith("metadata and storage agree")


def test_fsck_repair_never_reports_a_broken_image_as_clean(start_server: Callable[..., ServerProcess]) -> None:
    server = start_server()
    reg = Registry(server.url)
    image = make_image(layers=1, size=4096)
    assert reg.push_image("cli/fsck", image, "v1").status_code == 201
    layer = json.loads(image.manifest)["layers"][0]["digest"].split(":")[1]
    (server.data_dir / "blobs" / "blobs" / "sha256" / layer[:2] / layer).write_bytes(b"truncated")
    found = cais(server, "fsck", check=False)
    assert found.returncode == 1 and f"image    cli/fsck@{image.digest} (tags: v1) cannot be pulled" in found.stdout
    repaired = cais(server, "fsck", "--repair", check=False)
    assert repaired.returncode == 1, repaired.stdout
    assert "1 image(s) still lack blobs that are gone" in repaired.stdout
    assert list((server.data_dir / "blobs" / "quarantine").rglob("*"))  # the bytes are kept aside
    again = cais(server, "fsck", check=False)
    assert again.returncode == 1 and f"cli/fsck@{image.digest}" in again.stdout
    reg.push_blob("cli/fsck", image.layers[0])
    assert cais(server, "fsck").stdout.strip().endswith("metadata and storage agree")
