"""OSV records (https://ossf.github.io/osv-schema/): checked and reduced to what matching needs.

One advisory names affected packages per ecosystem (`Debian:12`, `Alpine:v3.19`, `PyPI`, `npm`,
`Go`...) with version ranges (events `introduced`, `fixed`, `last_affected`, `limit`) and
explicit `versions`. A record that is not OSV raises OsvError with the reason, so that an
import refuses the whole database rather than storing half of it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from .severity import Rating, rate

EVENT_KINDS = ("introduced", "fixed", "last_affected", "limit")
RANGE_TYPES = ("ECOSYSTEM", "SEMVER", "GIT")


class OsvError(ValueError):
    """Not an OSV record; the message says what is wrong."""


@dataclass(frozen=True, slots=True)
class Affected:
    ecosystem: str
    name: str  # as matching looks it up (see lookup_name)
    ranges: tuple[tuple[str, tuple[tuple[str, str], ...]], ...]  # (type, ((event kind, version), ...))
    versions: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "ranges": [[kind, [list(e) for e in events]] for kind, events in self.ranges],
            "versions": self.versions,
        }

    @classmethod
    def from_json(cls, ecosystem: str, name: str, data: dict[str, Any]) -> Affected:
        ranges = tuple((kind, tuple((e[0], e[1]) for e in events)) for kind, events in data["ranges"])
        return cls(ecosystem, name, ranges, tuple(data["versions"]))


@dataclass(frozen=True, slots=True)
class Advisory:
    id: str
    aliases: tuple[str, ...]
    modified: str
    withdrawn: bool
    summary: str | None
    uri: str
    rating: Rating
    affected: tuple[Affected, ...]


def family(ecosystem: str) -> str:
    """The ecosystem without its release: `Debian:12` is Debian, `Alpine:v3.19` Alpine."""
    return ecosystem.split(":", 1)[0]


def lookup_name(ecosystem: str, name: str) -> str:
    """Package names as compared: PyPI's are case- and separator-insensitive (PEP 503)."""
    if family(ecosystem) == "PyPI":
        return re.sub(r"[-_.]+", "-", name).lower()
    return name


def _text(record: dict[str, Any], key: str, required: bool = False) -> str | None:
    value = record.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value:
        raise OsvError(f"{key} must be a non-empty string")
    return value


def _list(value: Any, what: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise OsvError(f"{what} must be a list")
    return value


def _events(value: Any, where: str) -> tuple[tuple[str, str], ...]:
    events = []
    for event in _list(value, f"{where}.events"):
        if not isinstance(event, dict) or len(event) != 1:
            raise OsvError(f"{where}.events: each event must be an object with one key")
        ((kind, version),) = event.items()
        if kind not in EVENT_KINDS or not isinstance(version, str) or not version:
            raise OsvError(f"{where}.events: unknown event {kind!r} or empty version")
        events.append((kind, version))
    return tuple(events)


def _affected(item: Any, index: int) -> Affected | None:
    where = f"affected[{index}]"
    if not isinstance(item, dict):
        raise OsvError(f"{where} must be an object")
    package = item.get("package")
    if package is None:
        return None  # affects a git repository only: nothing to match packages against
    if not isinstance(package, dict) or not isinstance(package.get("ecosystem"), str):
        raise OsvError(f"{where}.package must name an ecosystem")
    if not isinstance(package.get("name"), str) or not package["name"]:
        raise OsvError(f"{where}.package must have a name")
    ranges = []
    for number, entry in enumerate(_list(item.get("ranges"), f"{where}.ranges")):
        if not isinstance(entry, dict) or entry.get("type") not in RANGE_TYPES:
            raise OsvError(f"{where}.ranges[{number}].type must be one of {', '.join(RANGE_TYPES)}")
        if entry["type"] != "GIT":  # commits say nothing about package versions
            ranges.append((str(entry["type"]), _events(entry.get("events"), f"{where}.ranges[{number}]")))
    versions = _list(item.get("versions"), f"{where}.versions")
    if not all(isinstance(v, str) for v in versions):
        raise OsvError(f"{where}.versions must be strings")
    ecosystem = package["ecosystem"]
    return Affected(ecosystem, lookup_name(ecosystem, package["name"]), tuple(ranges), tuple(versions))


def _uri(record: dict[str, Any], advisory_id: str) -> str:
    references = [r for r in _list(record.get("references"), "references") if isinstance(r, dict)]
    for kind in ("ADVISORY", "WEB"):
        for reference in references:
            if reference.get("type") == kind and isinstance(reference.get("url"), str):
                return str(reference["url"])
    return f"https://osv.dev/vulnerability/{advisory_id}"


def parse(record: Any) -> Advisory:
    """The advisory of one OSV record; OsvError when it is not one."""
    if not isinstance(record, dict):
        raise OsvError("an OSV record must be a JSON object")
    advisory_id = _text(record, "id", required=True)
    assert advisory_id is not None
    try:
        modified = _text(record, "modified", required=True)
        aliases = _list(record.get("aliases"), "aliases")
        if not all(isinstance(alias, str) for alias in aliases):
            raise OsvError("aliases must be strings")
        found = [_affected(item, i) for i, item in enumerate(_list(record.get("affected"), "affected"))]
        summary = record.get("summary") if isinstance(record.get("summary"), str) else None
        return Advisory(
            id=advisory_id,
            aliases=tuple(aliases),
            modified=modified or "",
            withdrawn=record.get("withdrawn") is not None,
            summary=summary,
            uri=_uri(record, advisory_id),
            rating=rate(record),
            affected=tuple(a for a in found if a is not None),
        )
    except OsvError as exc:
        raise OsvError(f"{advisory_id}: {exc}") from None
