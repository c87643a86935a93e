"""Repositories as things an operator manages: explicit creation, settings, resource tags,
policies and deletion. Every change writes its event in the same transaction."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, delete, func, select

from . import event_kinds, tag_mutability
from .errors import LabelInvalid, PolicyNotFound, RepositoryExists, RepositoryNotEmpty, TooManyLabels
from .metadata import events, labels, repositories
from .metadata.engine import Database
from .metadata.repositories import RepositoryRow, Settings
from .metadata.schema import manifest_references, manifests, tag_history, tags

MAX_LABELS = 50
POLICY_EVENTS = {"repository_policy": event_kinds.POLICY_CHANGED, "lifecycle_policy": event_kinds.LIFECYCLE_CHANGED}


@dataclass(frozen=True, slots=True)
class Repository:
    row: RepositoryRow
    labels: dict[str, str]
    image_count: int

    @property
    def name(self) -> str:
        return self.row.name

    @property
    def settings(self) -> Settings:
        return self.row.settings


def check_labels(new: dict[str, str]) -> None:
    for key, value in new.items():
        if not 1 <= len(key) <= 128 or len(value) > 256:
            raise LabelInvalid(f"tag key {key[:140]!r} must have 1-128 characters and its value at most 256")
        if key.lower().startswith("aws:"):
            raise LabelInvalid(f"tag key {key[:140]!r} uses the reserved prefix 'aws:'")


class RepositoryStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    # -- reads ------------------------------------------------------------------------------
    def get(self, name: str) -> Repository:
        with self.db.read() as conn:
            row = repositories.get(conn, name)
            if row is None:
                raise repositories.unknown(name)
            return self._describe(conn, row)

    def page(self, after: str, limit: int, only: list[str] | None = None) -> list[Repository]:
        with self.db.read() as conn:
            return [self._describe(conn, row) for row in repositories.rows(conn, after, limit, only)]

    @staticmethod
    def _describe(conn: Connection, row: RepositoryRow) -> Repository:
        count = conn.execute(select(func.count()).where(manifests.c.repository_id == row.id)).scalar()
        return Repository(row, labels.get(conn, row.id), int(count or 0))

    # -- lifecycle of a repository ----------------------------------------------------------
    def create(self, name: str, settings: Settings, new_labels: dict[str, str]) -> Repository:
        tag_mutability.check(settings.tag_mutability, settings.mutability_exclusions)
        check_labels(new_labels)
        if len(new_labels) > MAX_LABELS:
            raise TooManyLabels(f"a repository holds at most {MAX_LABELS} tags")
        with self.db.write() as conn:
            repository_id = repositories.create(conn, name, settings)
            if repository_id is None:
                raise RepositoryExists(f"repository {name} already exists", {"name": name})
            labels.put(conn, repository_id, new_labels)
            repositories.announce_created(conn, name, settings)
            row = repositories.get(conn, name)
            assert row is not None
            return self._describe(conn, row)

    def delete(self, name: str, force: bool) -> Repository:
        """Remove the repository; with images only when forced. Blobs go to garbage collection."""
        with self.db.write() as conn:
            row = repositories.get(conn, name, lock=True)
            if row is None:
                raise repositories.unknown(name)
            described = self._describe(conn, row)
            if described.image_count and not force:
                raise RepositoryNotEmpty(f"repository {name} still contains {described.image_count} image(s)")
            for table in (manifest_references, tag_history, tags):
                conn.execute(delete(table).where(table.c.repository_id == row.id))
            conn.execute(delete(manifests).where(manifests.c.repository_id == row.id))
            repositories.remove(conn, row.id)
            deleted = event_kinds.RepositoryDeleted(described.image_count)
            events.enqueue(conn, event_kinds.REPOSITORY_DELETED, name, deleted)
            return described

    # -- settings ---------------------------------------------------------------------------
    def update(self, name: str, **changes: Any) -> Repository:
        """Change some settings (fields of Settings); unknown names are a programming error."""
        with self.db.write() as conn:
            row = repositories.get(conn, name, lock=True)
            if row is None:
                raise repositories.unknown(name)
            settings = dataclasses.replace(row.settings, **changes)
            tag_mutability.check(settings.tag_mutability, settings.mutability_exclusions)
            repositories.set_columns(conn, row.id, repositories.settings_columns(settings))
            document = event_kinds.RepositorySettings(repositories.settings_document(settings))
            events.enqueue(conn, event_kinds.REPOSITORY_UPDATED, name, document)
            updated = repositories.get(conn, name)
            assert updated is not None
            return self._describe(conn, updated)

    def tag(self, name: str, new_labels: dict[str, str]) -> None:
        check_labels(new_labels)
        with self.db.write() as conn:
            repository_id = repositories.require(conn, name)
            if len(labels.get(conn, repository_id) | new_labels) > MAX_LABELS:
                raise TooManyLabels(f"a repository holds at most {MAX_LABELS} tags")
            labels.put(conn, repository_id, new_labels)
            events.enqueue(conn, event_kinds.REPOSITORY_TAGGED, name, event_kinds.RepositoryLabels(tags=new_labels))

    def untag(self, name: str, keys: list[str]) -> None:
        with self.db.write() as conn:
            labels.remove(conn, repositories.require(conn, name), keys)
            events.enqueue(conn, event_kinds.REPOSITORY_UNTAGGED, name, event_kinds.RepositoryLabels(keys=keys))

    # -- policies (stored as the JSON text the client gave) ----------------------------------
    def set_policy(self, name: str, kind: str, text: str) -> None:
        with self.db.write() as conn:
            row = repositories.get(conn, name, lock=True)
            if row is None:
                raise repositories.unknown(name)
            self._store_policy(conn, row, kind, text)

    def policy(self, name: str, kind: str) -> str:
        with self.db.read() as conn:
            row = repositories.get(conn, name)
        if row is None:
            raise repositories.unknown(name)
        text: str | None = getattr(row, kind)
        if text is None:
            raise PolicyNotFound(f"repository {name} has no {kind.replace('_', ' ')}")
        return text

    def delete_policy(self, name: str, kind: str) -> RepositoryRow:
        """Remove the policy; returns the repository as it was (with the policy)."""
        with self.db.write() as conn:
            row = repositories.get(conn, name, lock=True)
            if row is None:
                raise repositories.unknown(name)
            if getattr(row, kind) is None:
                raise PolicyNotFound(f"repository {name} has no {kind.replace('_', ' ')}")
            self._store_policy(conn, row, kind, None)
            return row

    @staticmethod
    def _store_policy(conn: Connection, row: RepositoryRow, kind: str, text: str | None) -> None:
        repositories.set_columns(conn, row.id, {kind: text})
        payload = event_kinds.PolicyChanged(json.loads(text) if text is not None else None)
        events.enqueue(conn, POLICY_EVENTS[kind], row.name, payload)
