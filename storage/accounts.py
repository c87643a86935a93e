"""Who may log in: users, robot accounts and groups, with their credentials (password hashes,
AWS-style access keys, refresh tokens). Every change is one transaction that writes its event
and bumps the access-control generation, so that caches in every worker notice it."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from . import event_kinds
from .errors import AccountExists, AccountUnknown
from .event_kinds import Kind
from .metadata import access_keys, auth_generation, console_sessions, events, groups, refresh_tokens
from .metadata import permissions as permission_rows
from .metadata import principals as principal_rows
from .metadata.engine import Database
from .metadata.principals import PrincipalRow

P = TypeVar("P")


@dataclass(frozen=True, slots=True)
class NewAccount:
    kind: str  # user | robot
    name: str
    secret_hash: str | None
    description: str | None = None
    expires_at: float | None = None
    rules: list[tuple[str, frozenset[str]]] = field(default_factory=list)  # (pattern, actions)
    access_key: tuple[str, bytes] | None = None  # (access key id, encrypted secret)


@dataclass(frozen=True, slots=True)
class Account:
    row: PrincipalRow
    groups: list[str]
    access_keys: list[str] = field(default_factory=list)


def announce(conn: Connection, kind: Kind[P], payload: P) -> None:
    """The event of an access-control change, and the generation bump that invalidates caches."""
    auth_generation.bump(conn)
    events.enqueue(conn, kind, None, payload)


def _changed(conn: Connection, kind: str, name: str, **details: Any) -> None:
    announce(conn, event_kinds.ACCOUNT_KINDS[kind], event_kinds.AccountChanged(name, **details))


class AccountStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    # -- accounts -----------------------------------------------------------------------------
    def create(self, new: NewAccount) -> None:
        values = {
            "kind": new.kind,
            "name": new.name,
            "secret_hash": new.secret_hash,
            "description": new.description,
            "expires_at": new.expires_at,
            "created_at": time.time(),
        }
        try:
            with self.db.write() as conn:
                if groups.find(conn, new.name) is not None:
                    raise AccountExists(f"a group named {new.name} exists")
                principal_id = principal_rows.create(conn, values)
                for pattern, actions in new.rules:
                    permission_rows.put(conn, new.kind, new.name, pattern, actions)
                if new.access_key:
                    access_keys.create(conn, new.access_key[0], principal_id, new.access_key[1])
                _changed(conn, f"{new.kind}.created", new.name, expires_at=new.expires_at)
        except IntegrityError:
            raise AccountExists(f"a user or robot named {new.name} exists") from None

    def account(self, name: str) -> Account | None:
        with self.db.read() as conn:
            found = principal_rows.find(conn, name)
            return Account(found, groups.of_principal(conn, found.id)) if found else None

    def accounts(self, kind: str) -> list[Account]:
        with self.db.read() as conn:
            keys = access_keys.of_principals(conn)
            memberships = groups.of_principals(conn)
            rows = principal_rows.listing(conn, kind)
            return [Account(r, memberships.get(r.id, []), keys.get(r.id, [])) for r in rows]

    def delete(self, kind: str, name: str) -> None:
        with self.db.write() as conn:
            found = self._find(conn, kind, name)
            principal_rows.remove(conn, found.id)
            permission_rows.remove_subject(conn, kind, name)
            _changed(conn, f"{kind}.deleted", name)

    def set_secret(self, kind: str, name: str, secret_hash: str) -> None:
        """A new password; refresh tokens and console sessions started under the old one stop working."""
        with self.db.write() as conn:
            found = self._find(conn, kind, name)
            principal_rows.change(conn, found.id, secret_hash=secret_hash)
            refresh_tokens.remove_for(conn, found.id)
            console_sessions.remove_for(conn, found.id)
            _changed(conn, f"{kind}.secret_changed", name)

    def revoke(self, kind: str, name: str) -> None:
        with self.db.write() as conn:
            found = self._find(conn, kind, name)
            principal_rows.change(conn, found.id, revoked_at=time.time())
            refresh_tokens.remove_for(conn, found.id)
            _changed(conn, f"{kind}.revoked", name)

    @staticmethod
    def _find(conn: Connection, kind: str, name: str) -> PrincipalRow:
        found = principal_rows.find(conn, name)
        if found is None or found.kind != kind:
            raise AccountUnknown(f"no {kind} named {name}")
        return found

    # -- groups -------------------------------------------------------------------------------
    def create_group(self, name: str) -> None:
        try:
            with self.db.write() as conn:
                if principal_rows.find(conn, name) is not None:
                    raise AccountExists(f"a user or robot named {name} exists")
                groups.create(conn, name)
                _changed(conn, "group.created", name)
        except IntegrityError:
            raise AccountExists(f"a group named {name} exists") from None

    def delete_group(self, name: str) -> None:
        with self.db.write() as conn:
            groups.remove(conn, self._group(conn, name))
            permission_rows.remove_subject(conn, "group", name)
            _changed(conn, "group.deleted", name)

    def change_members(self, group: str, members: list[str], add: bool) -> None:
        with self.db.write() as conn:
            group_id = self._group(conn, group)
            for member in members:
                found = principal_rows.find(conn, member)
                if found is None:
                    raise AccountUnknown(f"no user or robot named {member}")
                if add:
                    groups.add_member(conn, group_id, found.id)
                elif not groups.remove_member(conn, group_id, found.id):
                    raise AccountUnknown(f"{member} is not a member of {group}")
            _changed(conn, "group.members_changed", group, **{"added" if add else "removed": members})

    def groups(self) -> dict[str, list[str]]:
        with self.db.read() as conn:
            return groups.listing(conn)

    @staticmethod
    def _group(conn: Connection, name: str) -> int:
        group_id = groups.find(conn, name)
        if group_id is None:
            raise AccountUnknown(f"no group named {name}")
        return group_id

    # -- credentials --------------------------------------------------------------------------
    def access_key(self, access_key_id: str) -> tuple[bytes, Account] | None:
        with self.db.read() as conn:
            found = access_keys.find(conn, access_key_id)
            if found is None:
                return None
            return found[0], Account(found[1], groups.of_principal(conn, found[1].id))

    def save_refresh_token(self, token_hash: str, principal_id: int, service: str, expires_at: float) -> None:
        with self.db.write() as conn:
            refresh_tokens.remove_expired(conn, time.time())
            refresh_tokens.create(conn, token_hash, principal_id, service, expires_at)

    def refresh_token(self, token_hash: str) -> tuple[Account, str, float] | None:
        """(owner, service, expiry) of a refresh token."""
        with self.db.read() as conn:
            found = refresh_tokens.find(conn, token_hash)
            if found is None:
                return None
            owner, service, expires_at = found
            return Account(owner, groups.of_principal(conn, owner.id)), service, expires_at

    def generation(self) -> int:
        with self.db.read() as conn:
            return auth_generation.current(conn)
