"""The advisory database: sources (one per ecosystem family), each with one current generation
of advisories and affected packages.

An import writes a new generation of each source it brings (`prepare`, then batches of
`insert`), switches every such source to its new generation in one transaction (`switch`),
and only then deletes the old rows (`drop_other_generations`). Until the switch, readers see
the previous generation whole; an import that fails or dies leaves rows of a generation no
source points at, which the next import of that source deletes first.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import Connection, and_, delete, func, select

from .schema import vulndb_advisories, vulndb_affected, vulndb_sources
from .upsert import upsert


@dataclass(frozen=True, slots=True)
class SourceRow:
    name: str
    generation: int
    imported_at: float
    origin: str
    advisories: int
    withdrawn: int


@dataclass(frozen=True, slots=True)
class AffectedRow:
    advisory: str
    source: str
    generation: int
    ecosystem: str
    package: str
    ranges: dict[str, Any]


@dataclass(frozen=True, slots=True)
class AdvisoryRow:
    id: str
    aliases: list[str]
    severity: str
    score: float | None
    vector: str | None
    cvss_version: str | None
    summary: str | None
    uri: str


def sources(conn: Connection) -> list[SourceRow]:
    rows = conn.execute(select(vulndb_sources).order_by(vulndb_sources.c.name))
    return [SourceRow(r.name, r.generation, r.imported_at, r.origin, r.advisories, r.withdrawn) for r in rows]


def updated_at(conn: Connection) -> float | None:
    """When the database was last imported (ECR's vulnerabilitySourceUpdatedAt)."""
    value = conn.execute(select(func.max(vulndb_sources.c.imported_at))).scalar()
    return float(value) if value is not None else None


def prepare(conn: Connection, source: str) -> int:
    """The generation a new import of `source` writes, after clearing what a failed one left."""
    current = conn.execute(select(vulndb_sources.c.generation).where(vulndb_sources.c.name == source)).scalar()
    drop_other_generations(conn, source, current)
    return (current or 0) + 1


def insert(conn: Connection, advisories: list[dict[str, Any]], affected: list[dict[str, Any]]) -> None:
    """Rows of a generation being imported (columns as in the schema; ranges already JSON)."""
    if advisories:
        conn.execute(vulndb_advisories.insert(), advisories)
    if affected:
        conn.execute(vulndb_affected.insert(), affected)


def switch(conn: Connection, imported: list[SourceRow]) -> None:
    """Make the imported generations current (one transaction for all of them)."""
    for source in imported:
        upsert(conn, vulndb_sources, asdict(source))


def drop_other_generations(conn: Connection, source: str, keep: int | None) -> None:
    for table in (vulndb_affected, vulndb_advisories):
        condition = table.c.source == source
        if keep is not None:
            condition = and_(condition, table.c.generation != keep)
        conn.execute(delete(table).where(condition))


def affected(conn: Connection, ecosystem: str, packages: Iterable[str]) -> list[AffectedRow]:
    """The current advisories' entries for these package names of one ecosystem."""
    current = and_(
        vulndb_sources.c.name == vulndb_affected.c.source, vulndb_sources.c.generation == vulndb_affected.c.generation
    )
    query = (
        select(vulndb_affected)
        .join(vulndb_sources, current)
        .where(vulndb_affected.c.ecosystem == ecosystem, vulndb_affected.c.package.in_(set(packages)))
    )
    return [
        AffectedRow(r.advisory, r.source, r.generation, r.ecosystem, r.package, json.loads(r.ranges))
        for r in conn.execute(query)
    ]


def advisories(conn: Connection, keys: Iterable[tuple[str, int, str]]) -> dict[str, AdvisoryRow]:
    """Advisories by id, from (source, generation, id) keys."""
    found: dict[str, AdvisoryRow] = {}
    by_generation: dict[tuple[str, int], set[str]] = {}
    for source, generation, advisory in keys:
        by_generation.setdefault((source, generation), set()).add(advisory)
    for (source, generation), ids in by_generation.items():
        query = select(vulndb_advisories).where(
            vulndb_advisories.c.source == source,
            vulndb_advisories.c.generation == generation,
            vulndb_advisories.c.id.in_(ids),
        )
        for r in conn.execute(query):
            found[r.id] = AdvisoryRow(
                r.id, json.loads(r.aliases), r.severity, r.score, r.vector, r.cvss_version, r.summary, r.uri
            )
    return found
