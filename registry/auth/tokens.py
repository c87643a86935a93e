"""Bearer tokens: JWTs as the distribution token specification describes them (PyJWT, ES256).

Verification checks the signature with the key named by `kid`, then `exp`, `nbf`, `iat`,
`aud` (our service) and `iss` (our issuer); only ES256 is accepted, which rules out
`alg: none` and HMAC signed with the public key. A verified token is cached (by the whole
token, never by its signature segment alone) until it expires: a request then costs a dict
lookup instead of an ECDSA verification."""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import jwt

from .keys import SigningKeys
from .outcomes import TokenInvalid, VerifiedToken
from .scopes import Scope

ALGORITHM = "ES256"
CLOCK_SKEW = 5  # seconds of tolerated clock difference between replicas
CACHE_ENTRIES = 4096
REQUIRED_CLAIMS = ["iss", "sub", "aud", "exp", "nbf", "iat", "jti", "access"]


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: str
    expires_in: int
    issued_at: str  # RFC 3339, UTC


def _access_claim(value: Any) -> dict[tuple[str, str], frozenset[str]]:
    if not isinstance(value, list):
        raise TokenInvalid("access claim is not a list")
    found: dict[tuple[str, str], frozenset[str]] = {}
    for entry in value:
        if not isinstance(entry, dict):
            raise TokenInvalid("malformed access entry")
        kind, name, actions = entry.get("type"), entry.get("name"), entry.get("actions")
        if not (isinstance(kind, str) and isinstance(name, str) and isinstance(actions, list)):
            raise TokenInvalid("malformed access entry")
        if not all(isinstance(action, str) for action in actions):
            raise TokenInvalid("malformed access entry")
        found[(kind, name)] = found.get((kind, name), frozenset()) | frozenset(actions)
    return found


class Tokens:
    def __init__(self, keys: SigningKeys, issuer: str, service: str, ttl: float) -> None:
        self.keys = keys
        self.issuer = issuer
        self.service = service
        self.ttl = int(ttl)
        self._cache: dict[str, VerifiedToken] = {}
        self._lock = threading.Lock()

    def issue(
        self, subject: str, granted: list[Scope], now: float | None = None, ttl: int | None = None, kind: str = ""
    ) -> IssuedToken:
        issued = int(now if now is not None else time.time())
        ttl = ttl or self.ttl
        kid, key = self.keys.signer()
        claims = {
            "iss": self.issuer,
            "sub": subject,
            "aud": self.service,
            "exp": issued + ttl,
            "nbf": issued,
            "iat": issued,
            "jti": uuid.uuid4().hex,
            "access": [{"type": s.type, "name": s.name, "actions": sorted(s.actions)} for s in granted],
        }
        if kind:
            claims["kind"] = kind  # a private claim: access logs name the kind of caller without a lookup
        token = jwt.encode(claims, key, algorithm=ALGORITHM, headers={"kid": kid, "typ": "JWT"})
        stamp = datetime.fromtimestamp(issued, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return IssuedToken(token, ttl, stamp)

    def verify(self, token: str) -> VerifiedToken:
        cached = self._cache.get(token)
        now = time.time()
        if cached is not None and now < cached.expires_at + CLOCK_SKEW and self.keys.public_key(cached.kid):
            return cached
        verified = self._verify(token)
        self._remember(token, verified, now)
        return verified

    def _verify(self, token: str) -> VerifiedToken:
        try:
            kid = jwt.get_unverified_header(token).get("kid")
            key = self.keys.public_key(kid) if isinstance(kid, str) else None
            if key is None or not isinstance(kid, str):
                raise TokenInvalid("token signed by an unknown key")
            claims = jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                audience=self.service,
                issuer=self.issuer,
                leeway=CLOCK_SKEW,
                options={"require": REQUIRED_CLAIMS},
            )
        except jwt.PyJWTError as exc:
            raise TokenInvalid(str(exc)) from None
        subject = claims["sub"]
        if not isinstance(subject, str):
            raise TokenInvalid("sub is not a string")
        kind = claims.get("kind", "")
        return VerifiedToken(
            subject, _access_claim(claims["access"]), float(claims["exp"]), kid, kind if isinstance(kind, str) else ""
        )

    def _remember(self, token: str, verified: VerifiedToken, now: float) -> None:
        with self._lock:
            if len(self._cache) >= CACHE_ENTRIES:
                live = {t: v for t, v in self._cache.items() if v.expires_at > now}
                self._cache = live if len(live) < CACHE_ENTRIES // 2 else {}
            self._cache[token] = verified
