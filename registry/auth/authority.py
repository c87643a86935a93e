"""The pieces of access control one process needs, built once from the settings: signing keys,
the token service, the account directory. The /v2 gate, the token endpoint and the
ECR-compatible API share it."""

from __future__ import annotations

from dataclasses import dataclass

from storage.accounts import AccountStore
from storage.login_failures import LoginFailures
from storage.metadata.engine import Database
from storage.permission_store import PermissionStore
from storage.secretbox import SecretBox

from ..config import AuthSettings, Settings
from ..references import is_name
from .directory import Directory
from .keys import SigningKeys
from .outcomes import LoginRefused, TokenInvalid
from .policy import ALL, Principal, grants
from .scopes import CATALOG, REPOSITORY, Scope, merge
from .tokens import Tokens

# `docker login -u AWS -p <GetAuthorizationToken's password>`, as with ECR: the password is a
# token this registry signed for an account, whose permissions apply as they are at each request.
AWS_USER = "AWS"


@dataclass
class Authority:
    settings: AuthSettings
    keys: SigningKeys
    tokens: Tokens
    directory: Directory

    def basic_login(self, name: str, secret: str, client: str) -> Principal:
        """The principal behind Basic credentials: a name and password or robot secret, or the
        user AWS with a registry token (blocking: argon2 or a database read)."""
        if name != AWS_USER:
            return self.directory.login(name, secret, client)
        try:
            subject = self.tokens.verify(secret).subject
        except TokenInvalid:
            subject = ""
        principal = self.directory.principal(subject) if subject else None
        if principal is None:
            self.directory.failures.failed(client, name)
            raise LoginRefused("invalid registry token")
        return principal

    def registry_token(self, principal: Principal, seconds: int) -> str:
        """A password for `docker login -u AWS` that stands for `principal` for `seconds`."""
        return self.tokens.issue(principal.name, [], ttl=seconds, kind=principal.kind).token

    def grant(self, principal: Principal, requested: list[Scope]) -> list[Scope]:
        """Each requested scope cut down to what `principal` may do (reads its rules)."""
        rules = self.directory.rules(principal)
        granted = []
        for scope in merge(requested):
            if scope.type == REPOSITORY and is_name(scope.name):
                actions = grants(principal, rules, scope.name, scope.actions)
            elif (scope.type, scope.name) == CATALOG:
                actions = scope.actions & {ALL}  # listing is filtered per caller, so anyone may ask
            else:
                actions = frozenset()
            granted.append(Scope(scope.type, scope.name, actions))
        return granted


def open_authority(settings: Settings, db: Database) -> Authority:
    auth = settings.auth
    keys = SigningKeys(settings.auth_key_dir)
    keys.ensure()
    directory = Directory(
        AccountStore(db),
        PermissionStore(db),
        LoginFailures(
            db, auth.failure_limit, auth.failure_window, auth.account_failure_limit, auth.spray_failure_limit
        ),
        SecretBox(settings.auth_key_dir),
    )
    return Authority(auth, keys, Tokens(keys, auth.issuer, auth.service, auth.token_ttl), directory)
