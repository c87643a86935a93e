"""Test images built in Python: real package databases (dpkg status stanzas, an apk database,
dist-info and egg-info metadata, package.json files, an ELF file carrying Go build
information) in layers of gzip, zstd and plain tar, with whiteouts; pushed with the plain OCI
client."""

from __future__ import annotations

import gzip
import io
import json
import struct
import tarfile
from dataclasses import dataclass, field

import zstandard

from conformance.client import OCI_CONFIG, OCI_INDEX, OCI_MANIFEST, Registry, descriptor

LAYER_TYPES = {
    "gzip": "application/vnd.oci.image.layer.v1.tar+gzip",
    "zstd": "application/vnd.oci.image.layer.v1.tar+zstd",
    "tar": "application/vnd.oci.image.layer.v1.tar",
}


@dataclass(frozen=True)
class Item:
    path: str
    kind: str = "file"  # file, symlink, hardlink, dir
    data: bytes = b""
    target: str = ""
    mode: int = 0o644


def file(path: str, data: bytes | str, mode: int = 0o644) -> Item:
    return Item(path, data=data.encode() if isinstance(data, str) else data, mode=mode)


def symlink(path: str, target: str) -> Item:
    return Item(path, "symlink", target=target)


def hardlink(path: str, target: str) -> Item:
    return Item(path, "hardlink", target=target)


def whiteout(path: str) -> Item:
    directory, _, name = path.rpartition("/")
    return Item(f"{directory}/.wh.{name}")


def opaque(directory: str) -> Item:
    return Item(f"{directory}/.wh..wh..opq")


def _parents(items: list[Item]) -> list[Item]:
    """Directory entries for the parents of every item, as image builders write them."""
    seen: set[str] = set()
    found = []
    for item in items:
        parts = item.path.strip("/").split("/")[:-1]
        for depth in range(1, len(parts) + 1):
            directory = "/" + "/".join(parts[:depth])
            if ".." not in directory and directory not in seen:
                seen.add(directory)
                found.append(Item(directory, "dir", mode=0o755))
    return found


def tar_bytes(items: list[Item]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for item in _parents(items) + items:
            info = tarfile.TarInfo(item.path.lstrip("/") if not item.path.startswith("../") else item.path)
            info.mode = item.mode
            if item.kind == "file":
                info.size = len(item.data)
                tar.addfile(info, io.BytesIO(item.data))
                continue
            info.type = {"symlink": tarfile.SYMTYPE, "hardlink": tarfile.LNKTYPE, "dir": tarfile.DIRTYPE}[item.kind]
            info.linkname = item.target
            tar.addfile(info)
    return buffer.getvalue()


def compress(raw: bytes, compression: str) -> bytes:
    if compression == "gzip":
        return gzip.compress(raw, mtime=0)
    if compression == "zstd":
        return zstandard.ZstdCompressor().compress(raw)
    return raw


@dataclass
class Layer:
    items: list[Item]
    compression: str = "gzip"

    @property
    def blob(self) -> bytes:
        return compress(tar_bytes(self.items), self.compression)


@dataclass
class BuiltImage:
    layers: list[Layer]
    platform: tuple[str, str] = ("linux", "amd64")
    blobs: list[bytes] = field(default_factory=list)

    def build(self) -> tuple[bytes, bytes, list[bytes]]:
        """(config, manifest, layer blobs)."""
        blobs = [layer.blob for layer in self.layers]
        config = json.dumps(
            {
                "architecture": self.platform[1],
                "os": self.platform[0],
                "rootfs": {
                    "type": "layers",
                    "diff_ids": [descriptor("", tar_bytes(la.items))["digest"] for la in self.layers],
                },
            }
        ).encode()
        manifest = {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": descriptor(OCI_CONFIG, config),
            "layers": [
                descriptor(LAYER_TYPES[la.compression], blob) for la, blob in zip(self.layers, blobs, strict=True)
            ],
        }
        return config, json.dumps(manifest).encode(), blobs

    def push(self, registry: Registry, repository: str, tag: str) -> str:
        config, manifest, blobs = self.build()
        for blob in [config, *blobs]:
            registry.push_blob(repository, blob)
        response = registry.put_manifest(repository, tag, manifest)
        assert response.status_code == 201, response.text
        return str(response.headers["docker-content-digest"])


def push_index(registry: Registry, repository: str, tag: str, images: list[BuiltImage]) -> str:
    manifests = []
    for number, image in enumerate(images):
        _, manifest, _ = image.build()
        digest = image.push(registry, repository, f"{tag}-{number}")
        platform = {"os": image.platform[0], "architecture": image.platform[1]}
        manifests.append({"mediaType": OCI_MANIFEST, "digest": digest, "size": len(manifest), "platform": platform})
    body = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests}).encode()
    response = registry.put_manifest(repository, tag, body, OCI_INDEX)
    assert response.status_code == 201, response.text
    return str(response.headers["docker-content-digest"])


# -- package databases ---------------------------------------------------------------------------


def dpkg_status(packages: list[tuple[str, str, str | None]], status: str = "install ok installed") -> str:
    """Stanzas as dpkg writes them: (package, version, Source field or None)."""
    stanzas = []
    for name, version, source in packages:
        lines = [
            f"Package: {name}",
            f"Status: {status}",
            "Priority: optional",
            "Section: libs",
            "Installed-Size: 1024",
            "Maintainer: Debian Maintainers <debian@example.org>",
            "Architecture: amd64",
            "Multi-Arch: same",
        ]
        if source:
            lines.append(f"Source: {source}")
        lines += [f"Version: {version}", f"Description: the {name} package", " A longer description line.", " ."]
        stanzas.append("\n".join(lines) + "\n")
    return "\n".join(stanzas)


def apk_installed(packages: list[tuple[str, str, str]]) -> str:
    """(name, version, origin) records of /lib/apk/db/installed."""
    records = []
    for name, version, origin in packages:
        records.append(
            f"C:Q1{name[:10]:=<26}=\nP:{name}\nV:{version}\nA:x86_64\nS:1000\nI:4096\nT:the {name} package\n"
            f"U:https://alpinelinux.org\nL:MIT\no:{origin}\nm:Maintainer <m@example.org>\nt:1700000000\n"
            f"c:0123456789abcdef\nD:so:libc.musl-x86_64.so.1\nF:usr/lib\nR:lib{name}.so\n"
        )
    return "\n".join(records) + "\n"


def dist_info(name: str, version: str) -> str:
    return (
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nSummary: the {name} distribution\n"
        "Requires-Python: >=3.7\n\nA long description that follows the headers.\nVersion: 0.0.0\n"
    )


def package_json(name: str, version: str) -> str:
    return json.dumps({"name": name, "version": version, "description": f"the {name} package", "license": "MIT"})


def os_release(distro: str, version_id: str, pretty: str) -> str:
    return f'PRETTY_NAME="{pretty}"\nNAME="{pretty}"\nVERSION_ID="{version_id}"\nID={distro}\n'


# -- a Go executable ------------------------------------------------------------------------------

GO_MODINFO_START = bytes.fromhex("3077af0c9274080241e1c107e6d618e6")
GO_MODINFO_END = bytes.fromhex("f932433186182072008242104116d8f2")


def _uvarint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def go_buildinfo(go_version: str, main: str, deps: list[tuple[str, str]]) -> bytes:
    """The `.go.buildinfo` section of a Go 1.18+ binary: header, then inline version and modinfo."""
    lines = [f"path\t{main}/cmd/app", f"mod\t{main}\t(devel)\t"]
    lines += [f"dep\t{path}\t{version}\th1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=" for path, version in deps]
    lines += ["build\t-compiler=gc", "build\tGOOS=linux", "build\tGOARCH=amd64"]
    modinfo = GO_MODINFO_START + ("\n".join(lines) + "\n").encode() + GO_MODINFO_END
    header = b"\xff Go buildinf:" + bytes([8, 2]) + bytes(16)
    body = header + _uvarint(len(go_version)) + go_version.encode() + _uvarint(len(modinfo)) + modinfo
    return body + bytes(-len(body) % 16)


def go_elf(buildinfo: bytes) -> bytes:
    """A minimal ELF64 executable: one loadable segment holding .go.buildinfo, and the section
    headers naming it, laid out as the Go linker does (Go's debug/buildinfo, which syft uses,
    finds the section by name and reads it through the segment)."""
    names = b"\x00.go.buildinfo\x00.shstrtab\x00"
    data_offset, address = 0x1000, 0x500000
    names_offset = data_offset + len(buildinfo)
    sections_offset = (names_offset + len(names) + 7) // 8 * 8
    elf = struct.pack(
        "<4sBBBBB7sHHIQQQIHHHHHH",
        b"\x7fELF", 2, 1, 1, 0, 0, bytes(7),
        2, 62, 1, address, 64, sections_offset, 0, 64, 56, 1, 64, 3, 2,
    )  # fmt: skip
    segment = struct.pack("<IIQQQQQQ", 1, 6, data_offset, address, address, len(buildinfo), len(buildinfo), 0x1000)
    null = bytes(64)
    go = struct.pack("<IIQQQQIIQQ", 1, 1, 3, address, data_offset, len(buildinfo), 0, 0, 16, 0)
    strtab = struct.pack("<IIQQQQIIQQ", 15, 3, 0, 0, names_offset, len(names), 0, 0, 1, 0)
    head = elf + segment
    body = head + bytes(data_offset - len(head)) + buildinfo + names
    return body + bytes(sections_offset - len(body)) + null + go + strtab


# -- the images the scanning tests push -------------------------------------------------------------

SITE = "/usr/local/lib/python3.11/site-packages"


def debian_image(extra_status: str = "") -> BuiltImage:
    """Debian 12 with Python, npm and Go packages, in gzip, zstd and plain tar layers; the top
    layer whites out a vulnerable package (urllib3) of the layer below."""
    status = dpkg_status(
        [
            ("libc6", "2.36-9+deb12u3", "glibc"),  # CVE-2023-4911 is fixed in this version
            ("libssl3", "3.0.11-1~deb12u2", "openssl"),  # the Debian advisory names the source: openssl
            ("zlib1g", "1:1.2.13.dfsg-1", "zlib (1:1.2.13.dfsg-1)"),
            ("tar", "1.34+dfsg-1.2", None),
        ]
    )
    base = [
        symlink("/etc/os-release", "../usr/lib/os-release"),
        file("/usr/lib/os-release", os_release("debian", "12", "Debian GNU/Linux 12 (bookworm)")),
        file("/var/lib/dpkg/status", status + extra_status),
        file("/var/lib/dpkg/status.d/base-files", dpkg_status([("base-files", "12.4+deb12u5", None)])),
    ]
    languages = [
        file(f"{SITE}/requests-2.25.0.dist-info/METADATA", dist_info("requests", "2.25.0")),
        file(f"{SITE}/urllib3-1.26.4.dist-info/METADATA", dist_info("urllib3", "1.26.4")),
        file(f"{SITE}/Jinja2-2.11.3.egg-info/PKG-INFO", dist_info("Jinja2", "2.11.3")),
        file("/usr/lib/python3/dist-packages/six-1.16.0.egg-info", dist_info("six", "1.16.0")),
        file("/app/node_modules/lodash/package.json", package_json("lodash", "4.17.20")),
        file("/app/node_modules/minimist/package.json", package_json("minimist", "1.2.5")),
        file("/app/node_modules/@babel/traverse/package.json", package_json("@babel/traverse", "7.23.0")),
    ]
    app = go_elf(
        go_buildinfo("go1.20.1", "example.com/app", [("golang.org/x/net", "v0.7.0"), ("golang.org/x/text", "v0.3.7")])
    )
    top = [whiteout(f"{SITE}/urllib3-1.26.4.dist-info"), file("/usr/local/bin/app", app, 0o755)]
    return BuiltImage([Layer(base, "gzip"), Layer(languages, "zstd"), Layer(top, "tar")])


def alpine_image() -> BuiltImage:
    packages = [
        ("musl", "1.2.4_git20230717-r4", "musl"),
        ("busybox", "1.36.1-r15", "busybox"),
        ("libcrypto3", "3.1.4-r1", "openssl"),  # affected through its origin, openssl
        ("libssl3", "3.1.4-r1", "openssl"),
    ]
    layer = [
        file("/etc/os-release", os_release("alpine", "3.19.1", "Alpine Linux v3.19")),
        file("/lib/apk/db/installed", apk_installed(packages)),
    ]
    return BuiltImage([Layer(layer, "gzip")], platform=("linux", "arm64"))
