"""Who is logged in to the web console. The registry hands in the SHA-256 of each cookie token
(as for refresh tokens), so the database never holds a token that would log anyone in."""

from __future__ import annotations

import time

from .accounts import Account
from .errors import AccountUnknown
from .metadata import console_sessions, groups
from .metadata import principals as principal_rows
from .metadata.engine import Database


class ConsoleSessions:
    def __init__(self, db: Database) -> None:
        self.db = db

    def start(self, token_hash: str, name: str, ttl: float) -> None:
        """A session for the account `name` lasting `ttl` seconds; expired sessions are dropped."""
        now = time.time()
        with self.db.write() as conn:
            found = principal_rows.find(conn, name)
            if found is None:
                raise AccountUnknown(f"no user named {name}")
            console_sessions.remove_expired(conn, now)
            console_sessions.create(conn, token_hash, found.id, now + ttl)

    def account(self, token_hash: str) -> Account | None:
        """The active account behind a live session, with its groups."""
        with self.db.read() as conn:
            found = console_sessions.owner(conn, token_hash, time.time())
            return Account(found, groups.of_principal(conn, found.id)) if found else None

    def end(self, token_hash: str) -> None:
        with self.db.write() as conn:
            console_sessions.remove(conn, token_hash)
