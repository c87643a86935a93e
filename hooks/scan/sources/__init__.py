"""Package sources: which files of an image hold package information, and how to read them.
Each source module has `wants(path)` and `parse(path, bytes)`; Go binaries are found by their
content instead (sources/golang.py), os-release tells the distribution."""

from __future__ import annotations

from collections.abc import Callable

from ..packages import Package
from . import apk, dpkg, npm, python

Parser = Callable[[str, bytes], list[Package]]
SOURCES = (dpkg, apk, python, npm)


def parser_for(path: str) -> Parser | None:
    for source in SOURCES:
        if source.wants(path):
            parse: Parser = source.parse
            return parse
    return None
