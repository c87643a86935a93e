"""Failed logins, counted in the database so that the limits hold across worker processes and
replicas, without letting one account's failures lock out another.

CI runners share addresses (NAT), so an address alone says little. Failures are counted three
ways in fixed windows, and a login is refused (before its secret is even checked) when:

- its address and account failed `limit` times: guessing one account's secret from one place;
- its account failed `account_limit` times from anywhere: guessing it from many places;
- its address failed `spray_limit` times across accounts (a spray: one password tried on many
  accounts) and this account has not logged in from that address lately: the spray stops,
  while accounts already in use from there (the valid robot behind the same NAT) go on.

Keys are hashes, so the table holds no names or addresses; an empty account stands for
credentials that name none (refresh tokens: 256 random bits, never worth spraying).
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

from .metadata import auth_failures
from .metadata.engine import Database

# How long a successful login vouches for its address and account during a spray.
KNOWN_FOR = 30 * 86400.0


def _key(kind: str, *parts: str) -> str:
    return f"{kind}:{hashlib.sha256(chr(0).join(parts).encode()).hexdigest()[:60]}"


@dataclass(frozen=True, slots=True)
class _Keys:
    pair: str
    account: str
    address: str

    @classmethod
    def of(cls, client: str, account: str) -> _Keys:
        return cls(_key("p", client, account), _key("a", account), _key("c", client))


class LoginFailures:
    def __init__(self, db: Database, limit: int, window: float, account_limit: int, spray_limit: int) -> None:
        self.db = db
        self.limit = limit
        self.window = window
        self.account_limit = account_limit
        self.spray_limit = spray_limit

    def blocked_for(self, client: str, account: str) -> float | None:
        """Seconds until `client` may try to log in to `account` again, None if it may try now."""
        keys, now = _Keys.of(client, account), time.time()
        with self.db.read() as conn:
            found = auth_failures.counts(conn, [keys.pair, keys.account, keys.address], self.window, now)
            limits = [(keys.pair, self.limit)]
            if account:
                limits.append((keys.account, self.account_limit))
                spraying = found.get(keys.address, (0, 0.0))[0] >= self.spray_limit
                if spraying and not auth_failures.known(conn, keys.pair, now - KNOWN_FOR):
                    limits.append((keys.address, self.spray_limit))
        waits = [found[key][1] for key, limit in limits if key in found and found[key][0] >= limit]
        return max(waits) if waits else None

    def failed(self, client: str, account: str) -> None:
        keys = _Keys.of(client, account)
        with self.db.write() as conn:
            auth_failures.record(conn, [keys.pair, keys.account, keys.address], self.window, time.time())

    def succeeded(self, client: str, account: str) -> None:
        now = time.time()
        with self.db.write(durable=False) as conn:
            auth_failures.remember(conn, _Keys.of(client, account).pair, now, now - KNOWN_FOR)
