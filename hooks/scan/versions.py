"""Version ordering per ecosystem (univers implements each one's rules: Debian epochs and `~`,
Alpine's suffixes, PEP 440, npm's semver) and OSV's range evaluation over it.

A range's events are sorted by version and walked from the lowest: `introduced` makes the
versions from it on affected, `fixed` makes them unaffected from it on, `last_affected` from
just above it; `limit` bounds the whole range above. SEMVER ranges compare as semver whatever
the ecosystem (Go's are; Go versions lose their `v` and `go` prefixes). A version or event
that cannot be parsed decides nothing: that range does not match, rather than guessing.

Versions are compared with `<` only: univers defines `<` by each ecosystem's rules, while its
`==` compares the text (Debian's 1.0 and 1.00 are equal to dpkg) and, for Alpine, `>=` comes
from a generic tuple comparison that disagrees with its `<`.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .osv import Affected, family

if TYPE_CHECKING:
    from univers.versions import Version

ZERO = "0"
# apk's post-release suffixes that univers (Gentoo's rules) lacks; they sort as _p does.
_APK_POST = re.compile(r"_(cvs|svn|git|hg)(?=\d|-|$)")


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


def _native(kind: str, text: str) -> str:
    return _APK_POST.sub("_p", text) if kind == "Alpine" else text


@functools.lru_cache(maxsize=65536)
def parse(kind: str, text: str) -> Version | None:
    """`text` in ordering `kind` (an ecosystem family, or SEMVER); None when it is not valid there."""
    cls = _ordering().get(kind)
    if cls is None:
        return None
    try:
        return cls(_native(kind, text))
    except Exception:  # univers raises ValueError, InvalidVersion or its libraries' own errors
        return None


@dataclass(frozen=True, slots=True)
class Verdict:
    affected: bool
    fixed_in: str | None = None  # the first fixed version above the installed one, when known


def _order(a: tuple[str, str, Version | None], b: tuple[str, str, Version | None]) -> int:
    """Events by version, introduced "0" (None) first."""
    left, right = a[2], b[2]
    if left is None or right is None:
        return (left is not None) - (right is not None)
    return -1 if left < right else 1 if right < left else 0


def _walk(version: Version, kind: str, events: tuple[tuple[str, str], ...]) -> Verdict | None:
    parsed = []
    for event, text in events:
        at = None if event == "introduced" and text == ZERO else parse(kind, text)
        if at is None and not (event == "introduced" and text == ZERO):
            return None
        parsed.append((event, text, at))
    limits = [at for event, _, at in parsed if event == "limit" and at is not None]
    ordered = sorted((p for p in parsed if p[0] != "limit"), key=functools.cmp_to_key(_order))
    affected, fixed_in = False, None
    for event, text, at in ordered:
        if event == "introduced" and (at is None or not version < at):
            affected, fixed_in = True, None
        elif event == "fixed" and at is not None:
            if not version < at:
                affected = False
            elif affected and fixed_in is None:
                fixed_in = text
        elif event == "last_affected" and at is not None and at < version:
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
