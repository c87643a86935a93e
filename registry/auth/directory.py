"""Accounts as the request path sees them: log in with a name and a secret, find the rules that
apply to a principal, redeem refresh tokens, look up AWS access keys.

Caches (per process) hold successful logins, principals and rules; they are dropped whenever
the access-control generation in the database moves, so a revoked token, a deleted user or a
changed permission applies at the next request in every worker, bearer tokens included (each
request reads that one integer, then finds the token's subject and rules in the caches). A
login that misses the cache runs exactly one argon2 verification, whether or not the account
exists."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from typing import TypeVar

from storage.accounts import Account, AccountStore
from storage.login_failures import LoginFailures
from storage.permission_store import PermissionStore
from storage.secretbox import SecretBox

from . import credentials, passwords
from .outcomes import LoginRefused, LoginThrottled
from .policy import ANONYMOUS, Principal, Rule

CACHE_ENTRIES = 4096
K = TypeVar("K")
V = TypeVar("V")


def principal_of(account: Account) -> Principal:
    return Principal(account.row.kind, account.row.name, frozenset(account.groups))


class Directory:
    def __init__(
        self, accounts: AccountStore, permissions: PermissionStore, failures: LoginFailures, box: SecretBox
    ) -> None:
        self.accounts = accounts
        self.permissions = permissions
        self.failures = failures
        self.box = box
        self._cache_key = secrets.token_bytes(32)  # credentials are cached under an HMAC, never in clear
        self._lock = threading.Lock()
        self._generation = -1
        self._logins: dict[bytes, tuple[Principal, float | None]] = {}
        self._principals: dict[str, tuple[Principal | None, float | None]] = {}
        self._rules: dict[Principal, list[Rule]] = {}

    # -- logins -------------------------------------------------------------------------------
    def login(self, name: str, secret: str, client: str) -> Principal:
        generation = self._sync()
        key = hmac.new(self._cache_key, f"{name}\0{secret}".encode(), hashlib.sha256).digest()
        cached = self._logins.get(key)
        if cached is not None and (cached[1] is None or time.time() < cached[1]):
            return cached[0]
        self._check_throttle(client, name)
        account = self.accounts.account(name)
        valid = passwords.verify(account.row.secret_hash if account else None, secret)
        if not (valid and account and account.row.active(time.time())):
            self._fail(client, name)
        assert account is not None
        self.failures.succeeded(client, name)
        principal = principal_of(account)
        self._remember(generation, self._logins, key, (principal, account.row.expires_at))
        return principal

    def issue_refresh_token(self, principal: Principal, service: str, ttl: float) -> str:
        account = self.accounts.account(principal.name)
        if account is None:
            raise LoginRefused(principal.name)
        token = credentials.refresh_token()
        self.accounts.save_refresh_token(credentials.token_digest(token), account.row.id, service, time.time() + ttl)
        return token

    def redeem_refresh_token(self, token: str, service: str, client: str) -> Principal:
        self._check_throttle(client, "")
        found = self.accounts.refresh_token(credentials.token_digest(token))
        now = time.time()
        if found is None or found[1] != service or now >= found[2] or not found[0].row.active(now):
            self._fail(client, "")
        assert found is not None
        return principal_of(found[0])

    def _check_throttle(self, client: str, account: str) -> None:
        wait = self.failures.blocked_for(client, account)
        if wait is not None:
            raise LoginThrottled(wait)

    def _fail(self, client: str, account: str) -> None:
        self.failures.failed(client, account)
        raise LoginRefused("invalid credentials")

    # -- lookups ------------------------------------------------------------------------------
    def principal(self, name: str) -> Principal | None:
        """The active account of that name (the subject of a bearer token), with its groups."""
        account = self.accounts.account(name)
        return principal_of(account) if account and account.row.active(time.time()) else None

    def current(self, subject: str) -> tuple[Principal, list[Rule]] | None:
        """The subject of a bearer token as it is now, with its rules; None when it is gone
        (deleted, revoked or expired since the token was issued)."""
        generation = self._sync()
        if subject == "":
            return ANONYMOUS, self._rules_at(generation, ANONYMOUS)
        cached = self._principals.get(subject)
        if cached is None:
            account = self.accounts.account(subject)
            active = account is not None and account.row.active(time.time())
            cached = (principal_of(account), account.row.expires_at) if account and active else (None, None)
            self._remember(generation, self._principals, subject, cached)
        principal, expires_at = cached
        if principal is None or (expires_at is not None and time.time() >= expires_at):
            return None
        return principal, self._rules_at(generation, principal)

    def rules(self, principal: Principal) -> list[Rule]:
        return self._rules_at(self._sync(), principal)

    def _rules_at(self, generation: int, principal: Principal) -> list[Rule]:
        cached = self._rules.get(principal)
        if cached is None:
            rows = self.permissions.rules(principal.subjects())
            cached = [Rule(r.subject_kind, r.subject_name, r.pattern, r.actions) for r in rows]
            self._remember(generation, self._rules, principal, cached)
        return cached

    def aws_credential(self, access_key_id: str) -> tuple[str, Principal] | None:
        """(secret access key, owner) of an active access key, for SigV4 verification."""
        found = self.accounts.access_key(access_key_id)
        if found is None or not found[1].row.active(time.time()):
            return None
        return self.box.open(found[0]), principal_of(found[1])

    # -- caches -------------------------------------------------------------------------------
    def _sync(self) -> int:
        generation = self.accounts.generation()
        with self._lock:
            if generation != self._generation:
                self._logins.clear()
                self._principals.clear()
                self._rules.clear()
                self._generation = generation
        return generation

    def _remember(self, generation: int, cache: dict[K, V], key: K, value: V) -> None:
        """Cache what was read under `generation`, unless a change has been seen since."""
        with self._lock:
            if generation != self._generation:
                return
            if len(cache) >= CACHE_ENTRIES:
                cache.clear()
            cache[key] = value
