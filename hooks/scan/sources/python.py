"""Python distributions: `*.dist-info/METADATA` (wheels, pip), `*.egg-info/PKG-INFO` and
`*.egg-info` files (setuptools), wherever they are installed."""

from __future__ import annotations

import posixpath

from ..packages import PYPI, Package


def wants(path: str) -> bool:
    directory, name = posixpath.split(path)
    return (
        (name == "METADATA" and directory.endswith(".dist-info"))
        or (name == "PKG-INFO" and directory.endswith(".egg-info"))
        or name.endswith(".egg-info")
    )


def _headers(text: str) -> dict[str, str]:
    """The core metadata headers (RFC 822 style), up to the first blank line."""
    headers: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            break
        key, sep, value = line.partition(":")
        if sep and not line[0].isspace():
            headers.setdefault(key.strip().lower(), value.strip())
    return headers


def parse(path: str, data: bytes) -> list[Package]:
    headers = _headers(data.decode("utf-8", "replace"))
    name, version = headers.get("name"), headers.get("version")
    if not name or not version:
        return []
    return [Package(kind=PYPI, name=name, version=version, path=path)]
