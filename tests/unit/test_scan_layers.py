"""Reading layers as streams and stacking them into an inventory: compression, whiteouts,
opaque directories, links that must not escape, and the limits that stop hostile layers."""

from __future__ import annotations

import gzip
import io
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest
import zstandard

from hooks.scan.inventory import Inventory, merge
from hooks.scan.layer_index import LayerIndex, read_layer
from hooks.scan.layers import LayerError, Limits, entries
from tests.scan.images import (
    Item,
    Layer,
    dist_info,
    dpkg_status,
    file,
    go_buildinfo,
    go_elf,
    hardlink,
    opaque,
    os_release,
    package_json,
    symlink,
    tar_bytes,
    whiteout,
)

LIMITS = Limits(max_bytes=64 << 20, max_entries=10_000, max_file_bytes=1 << 20)
STATUS = "/var/lib/dpkg/status"
SITE = "/usr/local/lib/python3.11/site-packages"


def index(layer: Layer, limits: Limits = LIMITS) -> LayerIndex:
    blob = layer.blob
    return read_layer(iter([blob[i : i + 1000] for i in range(0, len(blob), 1000)]), limits)


def inventory(*layers: Layer) -> Inventory:
    return merge([(f"sha256:{number}", index(layer)) for number, layer in enumerate(layers)])


def names(found: Inventory) -> set[tuple[str, str, str]]:
    return {(p.kind, p.name, p.version) for p in found.packages}


@pytest.mark.parametrize("compression", ["gzip", "zstd", "tar"])
def test_every_compression_reads_the_same(compression: str) -> None:
    layer = Layer([file(STATUS, dpkg_status([("libssl3", "3.0.11-1~deb12u2", "openssl")]))], compression)
    (package,) = inventory(layer).packages
    assert (package.name, package.source, package.source_version) == ("libssl3", "openssl", "3.0.11-1~deb12u2")


def test_concatenated_gzip_members_and_zstd_frames() -> None:
    raw = tar_bytes([file(f"{SITE}/a-1.0.dist-info/METADATA", dist_info("a", "1.0"))])
    halves = [raw[: len(raw) // 2], raw[len(raw) // 2 :]]
    for blob in (
        b"".join(gzip.compress(h) for h in halves),
        b"".join(zstandard.ZstdCompressor().compress(h) for h in halves),
    ):
        found = read_layer(iter([blob]), LIMITS)
        assert [p.name for p in found.packages[f"{SITE}/a-1.0.dist-info/METADATA"]] == ["a"]


def test_whiteouts_and_opaque_directories_hide_lower_layers() -> None:
    lower = Layer(
        [
            file(f"{SITE}/urllib3-1.26.4.dist-info/METADATA", dist_info("urllib3", "1.26.4")),
            file(f"{SITE}/six-1.16.0.dist-info/METADATA", dist_info("six", "1.16.0")),
            file("/app/node_modules/lodash/package.json", package_json("lodash", "4.17.20")),
            file("/opt/node_modules/minimist/package.json", package_json("minimist", "1.2.5")),
        ]
    )
    upper = Layer(
        [
            whiteout(f"{SITE}/urllib3-1.26.4.dist-info"),
            opaque("/app/node_modules"),
            file("/app/node_modules/lodash/package.json", package_json("lodash", "4.17.21")),
        ],
        "zstd",
    )
    assert names(inventory(lower, upper)) == {
        ("pypi", "six", "1.16.0"),
        ("npm", "lodash", "4.17.21"),
        ("npm", "minimist", "1.2.5"),
    }


def test_a_package_keeps_the_layer_that_introduced_it() -> None:
    base = Layer([file(STATUS, dpkg_status([("libc6", "2.36-9", "glibc")]))])
    upgrade = Layer([file(STATUS, dpkg_status([("libc6", "2.36-9", "glibc"), ("curl", "7.88.1-10", None)]))])
    found = {p.name: p.layer for p in inventory(base, upgrade).packages}
    assert found == {"libc6": "sha256:0", "curl": "sha256:1"}


def test_only_installed_dpkg_packages_and_status_d_files() -> None:
    status = dpkg_status([("tar", "1.34+dfsg-1.2", None)]) + "\n"
    status += dpkg_status([("gone", "1.0-1", None)], status="deinstall ok config-files")
    layer = Layer(
        [
            file(STATUS, status),
            file("/var/lib/dpkg/status.d/base-files", dpkg_status([("base-files", "12.4", None)])),
            file("/var/lib/dpkg/status.d/base-files.md5sums", "0123  etc/debian_version\n"),
        ]
    )
    assert names(inventory(layer)) == {("deb", "tar", "1.34+dfsg-1.2"), ("deb", "base-files", "12.4")}


def test_os_release_through_a_link_inside_the_image() -> None:
    layer = Layer(
        [
            symlink("/etc/os-release", "../usr/lib/os-release"),
            file("/usr/lib/os-release", os_release("debian", "12", "D")),
        ]
    )
    system = inventory(layer).system
    assert system is not None and (system.id, system.version_id) == ("debian", "12")


def test_links_and_traversal_never_leave_the_image() -> None:
    """Names with `..` land inside the image root; links are never followed out of the image:
    what a link points at is looked up in the image (where it is absent), never on this host."""
    host_status = "/etc/cais-test-host-status"
    layer = Layer(
        [
            Item("../../../etc/os-release", data=os_release("alpine", "3.19.1", "A").encode()),
            symlink(STATUS, host_status),
            symlink("/usr/lib/os-release", "../../../../../../proc/self/environ"),
            hardlink(f"{SITE}/evil-1.0.dist-info/METADATA", "../../../../etc/passwd"),
            symlink("/app/node_modules/x/package.json", "/etc/passwd"),
        ]
    )
    found = inventory(layer)
    assert found.packages == ()
    assert found.system is not None and found.system.id == "alpine"  # the `..` entry is the image's /etc/os-release
    paths = [entry.path for entry in entries(iter([layer.blob]), LIMITS)]
    assert "/etc/os-release" in paths and all(p.startswith("/") and ".." not in p for p in paths)


def test_a_symlink_loop_is_not_followed_forever() -> None:
    layer = Layer(
        [symlink("/etc/os-release", "/usr/lib/os-release"), symlink("/usr/lib/os-release", "/etc/os-release")]
    )
    assert inventory(layer).system is None


def test_go_build_information_from_an_executable() -> None:
    binary = go_elf(go_buildinfo("go1.21.5", "example.com/svc", [("golang.org/x/net", "v0.17.0")]))
    found = inventory(Layer([file("/usr/bin/svc", binary, 0o755), file("/usr/bin/plain", b"\x7fELF" + bytes(200))]))
    assert names(found) == {
        ("golang", "example.com/svc", "(devel)"),
        ("golang", "golang.org/x/net", "v0.17.0"),
        ("golang", "stdlib", "go1.21.5"),
    }


def test_a_layer_over_the_byte_limit_fails() -> None:
    bomb = Layer([file("/zeros", bytes(4 << 20))])  # compresses to a few kilobytes
    with pytest.raises(LayerError, match="max_layer_bytes"):
        index(bomb, Limits(max_bytes=1 << 20, max_entries=100, max_file_bytes=1 << 20))


def test_a_layer_over_the_entry_limit_fails() -> None:
    many = Layer([file(f"/f{n}", b"x") for n in range(50)])
    with pytest.raises(LayerError, match="max_layer_entries"):
        index(many, Limits(max_bytes=1 << 20, max_entries=20, max_file_bytes=1 << 20))


def test_a_huge_package_database_fails_rather_than_being_held() -> None:
    big = Layer([file(STATUS, "Package: x\n" + "X-Padding: " + "y" * (2 << 20) + "\n")])
    with pytest.raises(LayerError, match="over the limit"):
        index(big)


def test_a_huge_extended_header_is_refused_before_it_is_read() -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo("a")
        info.pax_headers = {"comment": "z" * (2 << 20)}
        tar.addfile(info, io.BytesIO(b""))
    with pytest.raises(LayerError, match="extended header"):
        read_layer(iter([buffer.getvalue()]), LIMITS)


@pytest.mark.parametrize(
    "blob", [b"not a tar stream at all" * 40, gzip.compress(b"x" * 1000)[:-30], b"\x28\xb5\x2f\xfdjunk"]
)
def test_garbage_is_a_layer_error(blob: bytes) -> None:
    with pytest.raises(LayerError):
        read_layer(iter([blob]), LIMITS)


def test_an_index_survives_its_json_form() -> None:
    layer = Layer(
        [
            file(STATUS, dpkg_status([("libc6", "2.36-9", "glibc")])),
            symlink("/etc/os-release", "/usr/lib/os-release"),
            whiteout("/tmp/x"),
            opaque("/srv"),
        ]
    )
    original = index(layer)
    assert LayerIndex.from_json(original.to_json()) == original


@pytest.mark.skipif(shutil.which("go") is None, reason="Go is not installed (the synthetic executables above stand in)")
def test_a_real_go_executable(tmp_path: Path) -> None:
    (tmp_path / "go.mod").write_text("module example.com/real\n\ngo 1.19\n")
    (tmp_path / "main.go").write_text('package main\n\nfunc main() { println("hi") }\n')
    env = {**os.environ, "GOFLAGS": "-mod=mod", "GOCACHE": str(tmp_path / "cache"), "CGO_ENABLED": "0"}
    subprocess.run(["go", "build", "-o", "real", "."], cwd=tmp_path, env=env, check=True, timeout=300)
    version = subprocess.run(["go", "env", "GOVERSION"], capture_output=True, text=True, check=True).stdout.strip()
    found = inventory(Layer([file("/usr/bin/real", (tmp_path / "real").read_bytes(), 0o755)]))
    assert ("golang", "stdlib", version) in names(found)
    assert ("golang", "example.com/real", "(devel)") in names(found)
