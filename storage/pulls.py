"""Last-pulled times, recorded cheaply: a pull only adds (repository, digest) to an in-memory
set; `flush` writes the whole set in one transaction, and only rows whose recorded time is
older than the flush time are touched. A crash loses at most one interval of pull times."""

from __future__ import annotations

import threading
import time

from sqlalchemy import bindparam, or_, select, update

from .metadata.engine import Database
from .metadata.schema import manifests, repositories


class PullRecorder:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._pending: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    def record(self, repository: str, digest: str) -> None:
        with self._lock:
            self._pending.add((repository, digest))

    def flush(self) -> int:
        """Write the pulls seen since the last flush; returns how many images were noted."""
        with self._lock:
            pending, self._pending = self._pending, set()
        if not pending:
            return 0
        now = time.time()
        repository_id = select(repositories.c.id).where(repositories.c.name == bindparam("r")).scalar_subquery()
        statement = (
            update(manifests)
            .where(manifests.c.repository_id == repository_id, manifests.c.digest == bindparam("d"))
            .where(or_(manifests.c.pulled_at.is_(None), manifests.c.pulled_at < now))
            .values(pulled_at=now)
        )
        with self.db.write() as conn:
            conn.execute(statement, [{"r": repository, "d": digest} for repository, digest in sorted(pending)])
        return len(pending)
