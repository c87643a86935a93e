"""Version ordering per ecosystem (univers implements each one's rules: Debian epochs and `~`,
Alpine's suffixes, PEP 440, npm's semver) and OSV's range evaluation over it.

A range's events are sorted by version and walked from the lowest: `introduced` makes the
versions from it on affected, `fixed` makes them unaffected from it on, `last_affected` from
just above it; `limit` bounds the whole range above. SEMVER ranges compare as semver whatever
the ecosystem (Go's are; Go versions lose their `v` and `go` prefixes). A version or event
that cannot be parsed decides nothing: that range does not match, rather than guessing.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .osv import Affected, family

if TYPE_CHECKING:
    from univers.versions import Version

ZERO = "0"


@functools.cache
def _ordering() -> dict[str, type[Version]]:
    from univers import versions

    return {
        "Debian": versions.DebianVersion,
        "Ubuntu": versions.DebianVersion,
        "Alpine": versions.AlpineLinuxVersion,
        "PyPI": versions.PypiVersion,
        "npm": versions.SemverVersion,
        "Go": versions.SemverVersion,
        "SEMVER": versions.SemverVersion,
    }


def supported(ecosystem: str) -> bool:
    return family(ecosystem) in _ordering()


def clean(ecosystem: str, text: str) -> str:
    """The version as the ecosystem's advisories write it."""
    if family(ecosystem) == "Go":
        text = text.removeprefix("go").removeprefix("v").removesuffix("+incompatible")
    return text


@functools.lru_cache(maxsize=65536)
def parse(kind: str, text: str) -> Version | None:
    """`text` in ordering `kind` (an ecosystem family, or SEMVER); None when it is not valid there."""
    cls = _ordering().get(kind)
    if cls is None:
        return None
    try:
        return cls(text)
    except Exception:  # univers raises ValueError, InvalidVersion or its libraries' own errors
        return None


@dataclass(frozen=True, slots=True)
class Verdict:
    affected: bool
    fixed_in: str | None = None  # the first fixed version above the installed one, when known


def _walk(version: Version, kind: str, events: tuple[tuple[str, str], ...]) -> Verdict | None:
    parsed = []
    for event, text in events:
        at = None if event == "introduced" and text == ZERO else parse(kind, text)
        if at is None and not (event == "introduced" and text == ZERO):
            return None
        parsed.append((event, text, at))
    limits = [at for event, _, at in parsed if event == "limit" and at is not None]
    ordered = sorted((p for p in parsed if p[0] != "limit"), key=lambda p: (p[2] is not None, p[2] or 0))
    affected, fixed_in = False, None
    for event, text, at in ordered:
        if event == "introduced" and (at is None or version >= at):
            affected, fixed_in = True, None
        elif event == "fixed" and at is not None:
            if version >= at:
                affected = False
            elif affected and fixed_in is None:
                fixed_in = text
        elif event == "last_affected" and at is not None and version > at:
            affected = False
    if limits and not any(version < limit for limit in limits):
        affected = False
    return Verdict(affected, fixed_in if affected else None)


def evaluate(installed: str, affected: Affected) -> Verdict:
    """Whether `installed` (a version of the package in `affected.ecosystem`) is affected."""
    text = clean(affected.ecosystem, installed)
    if text in affected.versions or installed in affected.versions:
        return Verdict(True)
    for range_type, events in affected.ranges:
        kind = "SEMVER" if range_type == "SEMVER" else family(affected.ecosystem)
        version = parse(kind, text)
        if version is None:
            continue
        verdict = _walk(version, kind, events)
        if verdict is not None and verdict.affected:
            return verdict
    return Verdict(False)
