"""An image's inventory: its layers' indexes applied in order, as the container runtime stacks
them (a file in an upper layer replaces the lower one; whiteouts delete a path and everything
under it; an opaque directory hides what lower layers had in it).

Each package remembers the layer that introduced it: the lowest layer from which the same
package (kind, name, version) has been in the same file without interruption, so that
rewriting dpkg's status in an upper layer does not move every package into that layer.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from typing import Any, TypeVar

from .layer_index import LayerIndex
from .packages import OperatingSystem, Package
from .sources import osrelease

MAX_LINKS = 8  # symlink hops followed inside the image, as a loop guard
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Inventory:
    system: OperatingSystem | None
    packages: tuple[Package, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "system": self.system.to_json() if self.system else None,
            "packages": [p.to_json() for p in self.packages],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Inventory:
        system = OperatingSystem.from_json(data["system"]) if data.get("system") else None
        return cls(system, tuple(Package.from_json(p) for p in data["packages"]))


def _ancestors(path: str) -> list[str]:
    found = []
    while path not in ("/", ""):
        path = posixpath.dirname(path)
        found.append(path)
    return found


def _delete(view: dict[str, T], removed: set[str], emptied: set[str]) -> None:
    """Drop what whiteouts (`removed`: the path and below) and opaque directories (`emptied`:
    below only) of an upper layer hide."""
    if not removed and not emptied:
        return
    for path in list(view):
        above = _ancestors(path)
        if path in removed or any(a in removed or a in emptied for a in above):
            del view[path]


def _resolve(path: str, links: dict[str, str]) -> str:
    """Follow symlinks inside the image (targets are image paths already: never the host's)."""
    for _ in range(MAX_LINKS):
        if path not in links:
            return path
        path = links[path]
    return path


def merge(layers: list[tuple[str, LayerIndex]]) -> Inventory:
    """The inventory of an image from (layer digest, index) pairs, lowest layer first."""
    files: dict[str, list[Package]] = {}
    systems: dict[str, OperatingSystem] = {}
    links: dict[str, str] = {}
    for digest, index in layers:
        removed, emptied = set(index.whiteouts), set(index.opaque)
        _delete(files, removed, emptied)
        _delete(systems, removed, emptied)
        _delete(links, removed, emptied)
        for path, found in index.packages.items():
            before = {p.key: p.layer for p in files.get(path, ())}
            files[path] = [p.in_layer(before.get(p.key) or digest) for p in found]
        for path, release in index.systems.items():
            systems[path] = release
            links.pop(path, None)
        for path, target in index.links.items():
            links[path] = target
            systems.pop(path, None)
    resolved = [_resolve(path, links) for path in osrelease.PATHS]
    system = next((systems[path] for path in resolved if path in systems), None)
    packages = sorted((p for found in files.values() for p in found), key=lambda p: (p.kind, p.name, p.version, p.path))
    return Inventory(system, tuple(packages))
