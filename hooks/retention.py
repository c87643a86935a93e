"""Retention: events older than `[events] retention` are deleted with their deliveries,
whatever became of them (by then every delivery has long been delivered or dead-lettered, the
retries of one event lasting about a day). Deleted in batches, so that no transaction holds
the write lock for long."""

from __future__ import annotations

import time

from storage.metadata import events
from storage.metadata.engine import Database

BATCH = 1000


def prune(db: Database, retention: float) -> int:
    """Delete what is older than `retention` seconds; returns how many events went."""
    before = time.time() - retention
    total = 0
    while True:
        with db.write(durable=False) as conn:
            removed = events.prune(conn, before, BATCH)
        total += removed
        if removed < BATCH:
            return total
