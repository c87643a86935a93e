"""What one layer holds that an inventory needs: the package files it adds or replaces (with
the packages parsed from them), os-release files and links to them, and what it deletes
(whiteouts, opaque directories). An index depends only on the layer's bytes, so it is kept by
layer digest and shared by every image built on the same layer (see scanner.py)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from .layers import Entry, Limits, entries
from .packages import OperatingSystem, Package
from .sources import golang, osrelease, parser_for

HEAD = 4096  # first bytes read of other files, to tell a binary by its magic
MIN_BINARY = 64  # smaller files are no executables worth reading


@dataclass
class LayerIndex:
    packages: dict[str, list[Package]] = field(default_factory=dict)  # by the file they were found in
    systems: dict[str, OperatingSystem] = field(default_factory=dict)  # os-release files by path
    links: dict[str, str] = field(default_factory=dict)  # symlinks at os-release paths, to their targets
    whiteouts: list[str] = field(default_factory=list)
    opaque: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "packages": {path: [p.to_json() for p in found] for path, found in self.packages.items()},
            "systems": {path: system.to_json() for path, system in self.systems.items()},
            "links": self.links,
            "whiteouts": self.whiteouts,
            "opaque": self.opaque,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LayerIndex:
        return cls(
            packages={path: [Package.from_json(p) for p in found] for path, found in data["packages"].items()},
            systems={path: OperatingSystem.from_json(s) for path, s in data["systems"].items()},
            links=dict(data["links"]),
            whiteouts=list(data["whiteouts"]),
            opaque=list(data["opaque"]),
        )


def _file(index: LayerIndex, entry: Entry, limits: Limits) -> None:
    if osrelease.wants(entry.path):
        system = osrelease.parse(entry.read_all(limits.max_file_bytes))
        if system is not None:
            index.systems[entry.path] = system
        return
    parse = parser_for(entry.path)
    if parse is not None:
        # Recorded even when empty: the file replaces whatever a lower layer had there.
        index.packages[entry.path] = parse(entry.path, entry.read_all(limits.max_file_bytes))
    elif entry.size >= MIN_BINARY and (found := golang.scan(entry, entry.read(HEAD))):
        index.packages[entry.path] = found


def _hardlink(index: LayerIndex, entry: Entry) -> None:
    """A hard link to a file read earlier in this layer gets what that file gave."""
    assert entry.target is not None
    if entry.target in index.packages:
        index.packages[entry.path] = [
            Package.from_json({**p.to_json(), "path": entry.path}) for p in index.packages[entry.target]
        ]
    if entry.target in index.systems and osrelease.wants(entry.path):
        index.systems[entry.path] = index.systems[entry.target]


def read_layer(chunks: Iterator[bytes], limits: Limits) -> LayerIndex:
    """Index a layer from its blob's bytes; layers.LayerError when it cannot be read."""
    index = LayerIndex()
    for entry in entries(chunks, limits):
        if entry.kind == "whiteout":
            index.whiteouts.append(entry.path)
        elif entry.kind == "opaque":
            index.opaque.append(entry.path)
        elif entry.kind == "file":
            _file(index, entry, limits)
        elif entry.kind == "hardlink":
            _hardlink(index, entry)
        elif entry.kind == "symlink" and osrelease.wants(entry.path):
            assert entry.target is not None
            index.links[entry.path] = entry.target
    return index
