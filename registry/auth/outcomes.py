"""What checking credentials can come to, kept apart from the modules that check them: the
access check in front of every route handles these, and a registry without authentication
never loads PyJWT, cryptography and argon2 (about 9 MiB per worker process)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

# The kind of the tokens this registry issues to itself (the deployer's pulls). No account stands
# behind them, so they grant exactly their signed, short-lived access claim; only code here can
# issue a token of this kind (the token endpoint names the caller's own kind).
SYSTEM = "system"


class TokenInvalid(Exception):
    """The token is malformed, forged, expired, not yet valid, or not meant for us."""


@dataclass(frozen=True, slots=True)
class VerifiedToken:
    subject: str  # "" for an anonymous client
    access: Mapping[tuple[str, str], frozenset[str]]
    expires_at: float
    kid: str
    kind: str = ""  # of the subject: user or robot ("" in tokens issued before Cais said)

    def actions(self, kind: str, name: str) -> frozenset[str]:
        return self.access.get((kind, name), frozenset())


class LoginRefused(Exception):
    """Unknown name, wrong secret, or an expired or revoked account: deliberately one error."""


class LoginThrottled(Exception):
    def __init__(self, retry_after: float) -> None:
        super().__init__(f"too many failed logins, retry in {retry_after:.0f}s")
        self.retry_after = max(1, math.ceil(retry_after))
