"""Alpine packages: /lib/apk/db/installed, one record per package (`P:` name, `V:` version,
`A:` architecture, `o:` origin, the source package that Alpine's advisories name)."""

from __future__ import annotations

from ..packages import APK, Package

INSTALLED = "/lib/apk/db/installed"


def wants(path: str) -> bool:
    return path == INSTALLED


def _records(text: str) -> list[dict[str, str]]:
    records: list[dict[str, str]] = [{}]
    for line in text.splitlines():
        if not line.strip():
            records.append({})
        elif len(line) > 1 and line[1] == ":":
            records[-1].setdefault(line[0], line[2:])  # F:/R: repeat; the fields read here do not
    return [record for record in records if record]


def parse(path: str, data: bytes) -> list[Package]:
    return [
        Package(
            kind=APK,
            name=record["P"],
            version=record["V"],
            path=path,
            source=record.get("o") or record["P"],
            source_version=record["V"],
            arch=record.get("A"),
        )
        for record in _records(data.decode("utf-8", "replace"))
        if record.get("P") and record.get("V")
    ]
