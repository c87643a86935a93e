"""Permission rules: which subject may do which actions on repositories matching a pattern."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Connection

from . import event_kinds
from .accounts import announce
from .errors import AccountUnknown
from .metadata import groups
from .metadata import permissions as permission_rows
from .metadata import principals as principal_rows
from .metadata.engine import Database
from .metadata.permissions import PermissionRow


class PermissionStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def grant(self, kind: str, name: str, pattern: str, actions: frozenset[str]) -> frozenset[str]:
        """Add actions to the subject's rule for `pattern`; returns the rule's actions."""
        return self._change(kind, name, pattern, lambda before: before | actions)

    def revoke(self, kind: str, name: str, pattern: str, actions: frozenset[str] | None) -> frozenset[str]:
        """Remove actions (None: the whole rule); returns what is left."""
        return self._change(kind, name, pattern, lambda before: frozenset() if actions is None else before - actions)

    def _change(
        self, kind: str, name: str, pattern: str, edit: Callable[[frozenset[str]], frozenset[str]]
    ) -> frozenset[str]:
        with self.db.write() as conn:
            _check_subject(conn, kind, name)
            before = permission_rows.current(conn, kind, name, pattern)
            after = edit(before or frozenset())
            if before is None and not after:
                raise AccountUnknown(f"{kind} {name} has no permission on {pattern}")
            permission_rows.put(conn, kind, name, pattern, after)
            changed = event_kinds.PermissionChanged({"kind": kind, "name": name}, pattern, sorted(after))
            announce(conn, event_kinds.PERMISSION_CHANGED, changed)
            return after

    def rules(self, subjects: list[tuple[str, str]]) -> list[PermissionRow]:
        with self.db.read() as conn:
            return permission_rows.for_subjects(conn, subjects)

    def listing(self) -> list[PermissionRow]:
        with self.db.read() as conn:
            return permission_rows.listing(conn)


def _check_subject(conn: Connection, kind: str, name: str) -> None:
    if kind == "anonymous":
        return
    if kind == "group":
        exists = groups.find(conn, name) is not None
    else:
        found = principal_rows.find(conn, name)
        exists = found is not None and found.kind == kind
    if not exists:
        raise AccountUnknown(f"no {kind} named {name}")
