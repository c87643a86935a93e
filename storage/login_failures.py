"""Failed logins per client, counted in the database so that the limit holds across worker
processes and replicas."""

from __future__ import annotations

import time

from .metadata import auth_failures
from .metadata.engine import Database


class LoginFailures:
    def __init__(self, db: Database, limit: int, window: float) -> None:
        self.db = db
        self.limit = limit
        self.window = window

    def blocked_for(self, client: str) -> float | None:
        """Seconds until `client` may try again, None if it may try now."""
        with self.db.read() as conn:
            return auth_failures.blocked_for(conn, client, self.limit, self.window, time.time())

    def record(self, client: str) -> None:
        with self.db.write() as conn:
            auth_failures.record(conn, client, self.window, time.time())
