"""Debian packages: /var/lib/dpkg/status, and status.d/ (one file per package, as distroless
images have). Each package keeps its source package, because Debian's advisories name source
packages (libssl3 is built from openssl)."""

from __future__ import annotations

import posixpath

from ..packages import DEB, Package
from .stanzas import stanzas

STATUS = "/var/lib/dpkg/status"
STATUS_DIR = "/var/lib/dpkg/status.d"


def wants(path: str) -> bool:
    if path == STATUS:
        return True
    directory, name = posixpath.split(path)
    return directory == STATUS_DIR and not name.endswith(".md5sums")


def _installed(status: str | None) -> bool:
    """`install ok installed`; packages removed but for their configuration files are not installed."""
    return status is None or status.split()[-1:] == ["installed"]


def parse(path: str, data: bytes) -> list[Package]:
    found = []
    for fields in stanzas(data.decode("utf-8", "replace")):
        name, version = fields.get("package"), fields.get("version")
        if not name or not version or not _installed(fields.get("status")):
            continue
        source, _, source_version = (fields.get("source") or name).partition(" ")
        found.append(
            Package(
                kind=DEB,
                name=name,
                version=version,
                path=path,
                source=source,
                source_version=source_version.strip("()") or version,
                arch=fields.get("architecture"),
            )
        )
    return found
