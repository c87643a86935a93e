"""npm packages: every package.json under a node_modules directory (packages, scoped packages,
nested dependencies and what packages carry inside them), as npm installs them."""

from __future__ import annotations

import json

from ..packages import NPM, Package


def wants(path: str) -> bool:
    return path.endswith("/package.json") and "/node_modules/" in path


def parse(path: str, data: bytes) -> list[Package]:
    try:
        manifest = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        return []
    if not isinstance(manifest, dict):
        return []
    name, version = manifest.get("name"), manifest.get("version")
    if not isinstance(name, str) or not isinstance(version, str) or not name or not version:
        return []
    return [Package(kind=NPM, name=name, version=version, path=path)]
