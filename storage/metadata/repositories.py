"""Repository rows: created on first push (or explicitly), listed by the catalog, carrying the
repository's settings."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, bindparam, delete, select, update

from .. import event_kinds
from ..errors import NameUnknown
from . import events
from .schema import repositories
from .upsert import insert_ignore

MUTABILITIES = ("MUTABLE", "IMMUTABLE", "IMMUTABLE_WITH_EXCLUSION", "MUTABLE_WITH_EXCLUSION")
DEFAULT_ENCRYPTION = {"encryptionType": "AES256"}

# Built once: building a statement costs more than SQLite running it.
_FIND = select(repositories.c.id).where(repositories.c.name == bindparam("name"))
_FIND_LOCKED = _FIND.with_for_update()
_NAMES = (
    select(repositories.c.name)
    .where(repositories.c.name > bindparam("after"))
    .order_by(repositories.c.name)
    .limit(bindparam("limit"))
)


@dataclass(frozen=True, slots=True)
class Settings:
    """What an operator may set on a repository (ECR's repository attributes plus a description)."""

    tag_mutability: str = "MUTABLE"
    mutability_exclusions: tuple[str, ...] = ()  # wildcard filters (ECR's imageTagMutabilityExclusionFilters)
    scan_on_push: bool = False
    description: str | None = None
    encryption: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_ENCRYPTION))


@dataclass(frozen=True, slots=True)
class RepositoryRow:
    id: int
    name: str
    created_at: float
    settings: Settings
    repository_policy: str | None
    lifecycle_policy: str | None
    lifecycle_evaluated_at: float | None


def _row(record: Any) -> RepositoryRow:
    settings = Settings(
        tag_mutability=record.tag_mutability,
        mutability_exclusions=tuple(json.loads(record.mutability_exclusions or "[]")),
        scan_on_push=bool(record.scan_on_push),
        description=record.description,
        encryption=json.loads(record.encryption) if record.encryption else dict(DEFAULT_ENCRYPTION),
    )
    return RepositoryRow(
        id=record.id,
        name=record.name,
        created_at=record.created_at,
        settings=settings,
        repository_policy=record.repository_policy,
        lifecycle_policy=record.lifecycle_policy,
        lifecycle_evaluated_at=record.lifecycle_evaluated_at,
    )


def settings_columns(settings: Settings) -> dict[str, Any]:
    return {
        "tag_mutability": settings.tag_mutability,
        "mutability_exclusions": json.dumps(list(settings.mutability_exclusions)),
        "scan_on_push": settings.scan_on_push,
        "description": settings.description,
        "encryption": json.dumps(settings.encryption),
    }


def find(conn: Connection, name: str, lock: bool = False) -> int | None:
    """The repository's id. lock=True holds its row until the transaction ends: the writers of
    a repository's manifests and tags queue on it, whatever process or machine they run in."""
    return conn.execute(_FIND_LOCKED if lock else _FIND, {"name": name}).scalar()


def unknown(name: str) -> NameUnknown:
    return NameUnknown(f"repository {name} not known to registry", {"name": name})


def require(conn: Connection, name: str) -> int:
    """The repository's id; NameUnknown when there is no such repository."""
    found = find(conn, name)
    if found is None:
        raise unknown(name)
    return found


def get(conn: Connection, name: str, lock: bool = False) -> RepositoryRow | None:
    query = select(repositories).where(repositories.c.name == name)
    record = conn.execute(query.with_for_update() if lock else query).first()
    return _row(record) if record is not None else None


def settings_of(conn: Connection, repository_id: int) -> Settings:
    record = conn.execute(select(repositories).where(repositories.c.id == repository_id)).one()
    return _row(record).settings


def create(conn: Connection, name: str, settings: Settings) -> int | None:
    """The new repository's id; None when it exists, also when another transaction (of any
    replica) has just created it: ON CONFLICT, never a unique-key error."""
    values = {"name": name, "created_at": time.time(), **settings_columns(settings)}
    if insert_ignore(conn, repositories, values).rowcount == 0:
        return None
    return find(conn, name)


def for_push(conn: Connection, name: str, create_on_push: bool, lock: bool = False) -> int:
    """The id of the repository a push goes to, created on first use when the registry allows it
    (inside the caller's write transaction); NameUnknown otherwise, as ECR answers. lock: as find."""
    found = find(conn, name, lock)
    if found is None:
        if not create_on_push:
            raise NameUnknown(
                f"repository {name} does not exist and repositories are not created on push", {"name": name}
            )
        if create(conn, name, Settings()) is not None:  # else another transaction just did
            announce_created(conn, name, Settings())
        found = find(conn, name, lock)
    assert found is not None
    return found


def settings_document(settings: Settings) -> dict[str, Any]:
    """The settings as events show them (ECR's attribute names)."""
    return {
        "tagMutability": settings.tag_mutability,
        "mutabilityExclusions": list(settings.mutability_exclusions),
        "scanOnPush": settings.scan_on_push,
        "description": settings.description,
        "encryption": settings.encryption,
    }


def announce_created(conn: Connection, name: str, settings: Settings) -> None:
    document = event_kinds.RepositorySettings(settings_document(settings))
    events.enqueue(conn, event_kinds.REPOSITORY_CREATED, name, document)


def set_columns(conn: Connection, repository_id: int, values: dict[str, Any]) -> None:
    conn.execute(update(repositories).where(repositories.c.id == repository_id).values(**values))


def remove(conn: Connection, repository_id: int) -> None:
    conn.execute(delete(repositories).where(repositories.c.id == repository_id))


def names(conn: Connection, after: str, limit: int, contains: str = "") -> list[str]:
    """Names after `after` in order; `contains`: only those with that text in them."""
    statement = _NAMES.where(repositories.c.name.contains(contains, autoescape=True)) if contains else _NAMES
    return list(conn.execute(statement, {"after": after, "limit": limit}).scalars())


def rows(conn: Connection, after: str, limit: int, only: list[str] | None = None) -> list[RepositoryRow]:
    query = select(repositories).where(repositories.c.name > after)
    if only is not None:
        query = query.where(repositories.c.name.in_(only))
    return [_row(r) for r in conn.execute(query.order_by(repositories.c.name).limit(limit))]


def with_lifecycle_policy(conn: Connection) -> list[str]:
    query = select(repositories.c.name).where(repositories.c.lifecycle_policy.is_not(None))
    return list(conn.execute(query.order_by(repositories.c.name)).scalars())
