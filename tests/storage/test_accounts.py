"""Accounts, groups, permissions and login failures in the metadata database, and the
directory that the request path builds on them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from registry.auth import passwords
from registry.auth.directory import Directory
from registry.auth.outcomes import LoginRefused, LoginThrottled
from registry.auth.policy import Principal
from storage.accounts import AccountStore, NewAccount
from storage.errors import AccountExists, AccountUnknown
from storage.login_failures import LoginFailures
from storage.metadata.engine import Database
from storage.metadata.schema import events
from storage.permission_store import PermissionStore
from storage.secretbox import SecretBox

PULL = frozenset({"pull"})


@pytest.fixture
def accounts(db: Database) -> AccountStore:
    return AccountStore(db)


@pytest.fixture
def permissions(db: Database) -> PermissionStore:
    return PermissionStore(db)


def _event_types(db: Database) -> list[str]:
    with db.read() as conn:
        return list(conn.execute(select(events.c.type).order_by(events.c.id)).scalars())


def test_one_namespace_for_users_robots_and_groups(accounts: AccountStore) -> None:
    accounts.create(NewAccount("user", "alice", "hash"))
    accounts.create_group("devs")
    for clash in (NewAccount("user", "alice", "h"), NewAccount("robot", "alice", "h"), NewAccount("user", "devs", "h")):
        with pytest.raises(AccountExists):
            accounts.create(clash)
    for name in ("alice", "devs"):
        with pytest.raises(AccountExists):
            accounts.create_group(name)


def test_changes_write_events_and_bump_the_generation(
    db: Database, accounts: AccountStore, permissions: PermissionStore
) -> None:
    start = accounts.generation()
    rules = [("team/*", frozenset({"pull", "push"}))]
    accounts.create(NewAccount("robot", "ci", "hash", rules=rules, access_key=("AKIAX", b"sealed")))
    accounts.create(NewAccount("user", "alice", "hash"))
    accounts.create_group("devs")
    accounts.change_members("devs", ["alice", "ci"], add=True)
    assert permissions.grant("group", "devs", "app", PULL) == PULL
    assert permissions.grant("group", "devs", "app", frozenset({"push"})) == {"pull", "push"}
    assert permissions.revoke("group", "devs", "app", PULL) == {"push"}
    accounts.set_secret("user", "alice", "new-hash")
    accounts.revoke("robot", "ci")
    assert accounts.generation() == start + 9
    assert _event_types(db) == [
        "robot.created",
        "user.created",
        "group.created",
        "group.members_changed",
        "permission.changed",
        "permission.changed",
        "permission.changed",
        "user.secret_changed",
        "robot.revoked",
    ]
    assert accounts.groups() == {"devs": ["alice", "ci"]}
    assert accounts.access_key("AKIAX") is not None


def test_deleting_a_subject_deletes_its_rules(accounts: AccountStore, permissions: PermissionStore) -> None:
    accounts.create(NewAccount("user", "alice", "hash"))
    accounts.create_group("devs")
    permissions.grant("user", "alice", "app", PULL)
    permissions.grant("group", "devs", "app", PULL)
    accounts.delete("user", "alice")
    accounts.delete_group("devs")
    assert permissions.listing() == []
    accounts.create(NewAccount("user", "alice", "hash"))
    assert permissions.rules([("user", "alice")]) == []  # a new alice inherits nothing


def test_unknown_subjects_are_refused(accounts: AccountStore, permissions: PermissionStore) -> None:
    accounts.create(NewAccount("user", "alice", "hash"))
    with pytest.raises(AccountUnknown):
        permissions.grant("robot", "alice", "app", PULL)  # alice is a user, not a robot
    with pytest.raises(AccountUnknown):
        permissions.grant("group", "nobody", "app", PULL)
    with pytest.raises(AccountUnknown):
        permissions.revoke("user", "alice", "app", None)
    with pytest.raises(AccountUnknown):
        accounts.delete("robot", "alice")
    assert permissions.grant("anonymous", "", "public/*", PULL) == PULL


def _failures(db: Database, limit: int = 2, account_limit: int = 100, spray_limit: int = 100) -> LoginFailures:
    return LoginFailures(db, limit=limit, window=60, account_limit=account_limit, spray_limit=spray_limit)


def test_login_failures_are_counted_per_address_and_account(db: Database) -> None:
    failures = _failures(db)
    failures.failed("192.0.2.1", "alice")
    assert failures.blocked_for("192.0.2.1", "alice") is None
    failures.failed("192.0.2.1", "alice")
    wait = failures.blocked_for("192.0.2.1", "alice")
    assert wait is not None and 0 < wait <= 60
    assert failures.blocked_for("192.0.2.1", "robot") is None, "another account behind the same address"
    assert failures.blocked_for("192.0.2.2", "alice") is None, "the same account from elsewhere"
    assert _failures(db, limit=3).blocked_for("192.0.2.1", "alice") is None


def test_one_account_guessed_from_many_addresses_is_stopped(db: Database) -> None:
    failures = _failures(db, limit=10, account_limit=3)
    for n in range(3):
        failures.failed(f"198.51.100.{n}", "alice")
    assert failures.blocked_for("203.0.113.1", "alice") is not None
    assert failures.blocked_for("203.0.113.1", "bob") is None


def test_a_spray_is_stopped_except_for_accounts_known_from_that_address(db: Database) -> None:
    failures = _failures(db, limit=10, spray_limit=4)
    failures.succeeded("192.0.2.9", "ci-robot")  # the valid robot behind the same NAT
    for n in range(4):
        failures.failed("192.0.2.9", f"victim-{n}")
    assert failures.blocked_for("192.0.2.9", "victim-99") is not None
    assert failures.blocked_for("192.0.2.9", "ci-robot") is None
    assert failures.blocked_for("192.0.2.10", "victim-99") is None


# -- the directory ------------------------------------------------------------------------------
class CountingHasher:
    """The real argon2 hasher, counting verifications."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.verified: list[str] = []

    def hash(self, secret: str) -> str:
        return str(self.real.hash(secret))

    def verify(self, stored: str, secret: str) -> bool:
        self.verified.append(stored)
        return bool(self.real.verify(stored, secret))


@pytest.fixture
def hasher(monkeypatch: pytest.MonkeyPatch) -> CountingHasher:
    counting = CountingHasher(passwords._hasher)
    monkeypatch.setattr(passwords, "_hasher", counting)
    return counting


@pytest.fixture
def directory(db: Database, accounts: AccountStore, permissions: PermissionStore, tmp_path: Path) -> Directory:
    return Directory(accounts, permissions, _failures(db, limit=100), SecretBox(str(tmp_path)))


def test_every_login_runs_exactly_one_hash(
    directory: Directory, accounts: AccountStore, hasher: CountingHasher
) -> None:
    """Unknown names, wrong passwords and dead accounts cost the same: no user enumeration."""
    accounts.create(NewAccount("user", "alice", passwords.hash_secret("right password")))
    accounts.create(NewAccount("robot", "old", passwords.hash_secret("robot secret"), expires_at=1.0))
    accounts.create(NewAccount("robot", "aws-only", None))
    attempts = [("nobody", "whatever"), ("alice", "wrong password"), ("old", "robot secret"), ("aws-only", "")]
    for name, secret in attempts:
        hasher.verified.clear()
        with pytest.raises(LoginRefused):
            directory.login(name, secret, "192.0.2.1")
        assert len(hasher.verified) == 1, name
    hasher.verified.clear()
    assert directory.login("alice", "right password", "192.0.2.1") == Principal("user", "alice")
    assert len(hasher.verified) == 1
    directory.login("alice", "right password", "192.0.2.1")
    assert len(hasher.verified) == 1, "a repeated login is served from the cache"


def test_cached_logins_end_with_the_next_change(directory: Directory, accounts: AccountStore) -> None:
    accounts.create(NewAccount("user", "alice", passwords.hash_secret("right password")))
    directory.login("alice", "right password", "192.0.2.1")
    accounts.set_secret("user", "alice", passwords.hash_secret("new password"))
    with pytest.raises(LoginRefused):
        directory.login("alice", "right password", "192.0.2.1")
    accounts.create_group("devs")
    accounts.change_members("devs", ["alice"], add=True)
    assert directory.login("alice", "new password", "192.0.2.1").groups == {"devs"}


def test_refused_logins_are_throttled(
    db: Database, accounts: AccountStore, permissions: PermissionStore, tmp_path: Path
) -> None:
    directory = Directory(accounts, permissions, _failures(db), SecretBox(str(tmp_path)))
    accounts.create(NewAccount("user", "alice", passwords.hash_secret("right password")))
    for _ in range(2):
        with pytest.raises(LoginRefused):
            directory.login("alice", "guess", "192.0.2.1")
    with pytest.raises(LoginThrottled) as throttled:
        directory.login("alice", "right password", "192.0.2.1")
    assert 1 <= throttled.value.retry_after <= 60
    assert directory.login("alice", "right password", "192.0.2.2").name == "alice"
    accounts.create(NewAccount("robot", "ci", passwords.hash_secret("robot secret")))
    assert directory.login("ci", "robot secret", "192.0.2.1").name == "ci", "alice's failures are alice's"


def test_rules_follow_groups_and_changes(
    directory: Directory, accounts: AccountStore, permissions: PermissionStore
) -> None:
    accounts.create(NewAccount("user", "alice", "hash"))
    accounts.create_group("devs")
    accounts.change_members("devs", ["alice"], add=True)
    permissions.grant("group", "devs", "app", PULL)
    alice = directory.principal("alice")
    assert alice == Principal("user", "alice", frozenset({"devs"}))
    assert [r.pattern for r in directory.rules(alice)] == ["app"]
    permissions.grant("anonymous", "", "public/*", PULL)
    assert sorted(r.pattern for r in directory.rules(alice)) == ["app", "public/*"]


def test_aws_credentials_are_sealed_and_follow_revocation(
    directory: Directory, accounts: AccountStore, tmp_path: Path
) -> None:
    sealed = SecretBox(str(tmp_path)).seal("the-secret-access-key")
    assert b"the-secret-access-key" not in sealed
    accounts.create(NewAccount("robot", "ecr", None, access_key=("AKIATEST", sealed)))
    assert directory.aws_credential("AKIATEST") == ("the-secret-access-key", Principal("robot", "ecr"))
    assert directory.aws_credential("AKIAOTHER") is None
    accounts.revoke("robot", "ecr")
    assert directory.aws_credential("AKIATEST") is None
