"""Which repositories scan on push: the repository's own flag (ECR's imageScanningConfiguration)
or a rule of the registry's scanning configuration (ECR's PutRegistryScanningConfiguration)
whose wildcard filters match the repository's name. CONTINUOUS_SCAN rules scan on push too;
every scanned image is scanned again whenever a new advisory database is imported."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from storage import wildcard
from storage.metadata import registry_settings, repositories
from storage.metadata.engine import Database

SETTING = "scanning_configuration"
DEFAULT: dict[str, Any] = {"scanType": "BASIC", "rules": []}
# The rule a repository follows when several match, as ECR ranks them.
_RANK = {"CONTINUOUS_SCAN": 0, "SCAN_ON_PUSH": 1, "MANUAL": 2}


@dataclass(frozen=True, slots=True)
class Effective:
    scan_on_push: bool
    frequency: str  # SCAN_ON_PUSH, CONTINUOUS_SCAN or MANUAL
    filters: list[dict[str, str]]  # the matching rule's filters


def configuration(conn: Connection) -> dict[str, Any]:
    found = registry_settings.get(conn, SETTING)
    return found if isinstance(found, dict) else dict(DEFAULT)


def store(conn: Connection, configuration: dict[str, Any]) -> None:
    registry_settings.put(conn, SETTING, configuration)


def effective(configuration: dict[str, Any], repository: str, flag: bool) -> Effective:
    matching = [
        rule
        for rule in configuration.get("rules", [])
        if any(wildcard.matches(f["filter"], repository) for f in rule.get("repositoryFilters", []))
    ]
    if matching:
        rule = min(matching, key=lambda r: _RANK.get(r["scanFrequency"], 3))
        on_push = flag or rule["scanFrequency"] != "MANUAL"
        return Effective(on_push, rule["scanFrequency"], list(rule["repositoryFilters"]))
    return Effective(flag, "SCAN_ON_PUSH" if flag else "MANUAL", [])


def scans_on_push(conn: Connection, repository: str) -> bool:
    row = repositories.get(conn, repository)
    return row is not None and effective(configuration(conn), repository, row.settings.scan_on_push).scan_on_push


def registry_configuration(db: Database) -> dict[str, Any]:
    with db.read() as conn:
        return configuration(conn)


def put_registry_configuration(db: Database, value: dict[str, Any]) -> None:
    with db.write() as conn:
        store(conn, value)
