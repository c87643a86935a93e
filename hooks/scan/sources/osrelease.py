"""The operating system, from os-release (ID, VERSION_ID, PRETTY_NAME): /etc/os-release, else
/usr/lib/os-release (which /etc/os-release usually links to)."""

from __future__ import annotations

import shlex

from ..packages import OperatingSystem

PATHS = ("/etc/os-release", "/usr/lib/os-release")


def wants(path: str) -> bool:
    return path in PATHS


def parse(data: bytes) -> OperatingSystem | None:
    values: dict[str, str] = {}
    for line in data.decode("utf-8", "replace").splitlines():
        key, sep, raw = line.strip().partition("=")
        if sep and key and not key.startswith("#"):
            try:
                words = shlex.split(raw)
            except ValueError:
                continue
            values[key] = words[0] if words else ""
    if not values.get("ID"):
        return None
    return OperatingSystem(
        id=values["ID"].lower(),
        version_id=values.get("VERSION_ID") or None,
        name=values.get("PRETTY_NAME") or values["ID"],
    )
