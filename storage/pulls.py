"""Last-pulled times, recorded cheaply: a pull only counts (repository, digest, who) in memory;
`flush` writes them in one transaction, and only rows whose recorded time is older than the
flush time are touched. A crash loses at most one interval of pull times.

Pulls are not events, unless a subscription names the opt-in kind image.pulled: then the flush
also writes one event per image and puller with the count, so that a pull storm costs one
transaction per interval, whatever the number of pulls."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from sqlalchemy import bindparam, or_, select, update

from . import actor, event_kinds
from .metadata import events, subscriptions
from .metadata.engine import Database
from .metadata.schema import manifests, repositories


@dataclass
class _Pulls:
    count: int
    first: float
    last: actor.Actor  # the puller, with the request of its latest pull


class PullRecorder:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._pending: dict[tuple[str, str, str, str], _Pulls] = {}
        self._lock = threading.Lock()

    def record(self, repository: str, digest: str) -> None:
        who = actor.current()
        key = (repository, digest, who.kind, who.name)
        with self._lock:
            seen = self._pending.get(key)
            if seen is None:
                self._pending[key] = _Pulls(1, time.time(), who)
            else:
                seen.count += 1
                seen.last = who

    def flush(self) -> int:
        """Write the pulls seen since the last flush; returns how many images were noted."""
        with self._lock:
            pending, self._pending = self._pending, {}
        if not pending:
            return 0
        images = {(repository, digest) for repository, digest, _, _ in pending}
        now = time.time()
        repository_id = select(repositories.c.id).where(repositories.c.name == bindparam("r")).scalar_subquery()
        statement = (
            update(manifests)
            .where(manifests.c.repository_id == repository_id, manifests.c.digest == bindparam("d"))
            .where(or_(manifests.c.pulled_at.is_(None), manifests.c.pulled_at < now))
            .values(pulled_at=now)
        )
        with self.db.write() as conn:
            conn.execute(statement, [{"r": repository, "d": digest} for repository, digest in sorted(images)])
            if subscriptions.names_kind(conn, event_kinds.IMAGE_PULLED.name):
                for (repository, digest, _, _), pulls in sorted(pending.items()):
                    pulled = event_kinds.ImagePulled(digest, pulls.count, pulls.first, now)
                    with actor.acting(pulls.last):
                        events.enqueue(conn, event_kinds.IMAGE_PULLED, repository, pulled)
        return len(images)
