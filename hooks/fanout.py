"""The fan-out: events written to the outbox become delivery rows, one per matching
subscription, in one transaction that also marks the events as fanned out.

One fan-out at a time (SQLite's write lock; an advisory lock on PostgreSQL, which other
processes do not wait for), so deliveries are numbered in the order events are fanned out:
oldest first, and an event committed late (PostgreSQL) is fanned out in the next pass, after
the events already delivered. Events of one repository commit in order (their writers queue
on the repository's row), so they keep their order at every subscription.

A subscription gets the events that match its filters (kinds, repository patterns, tag
patterns), that its format can render, and that were written after it was created. Events of
an opt-in kind (image.pulled, blob.uploaded) go only to subscriptions that name the kind.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable

from storage import event_kinds, wildcard
from storage.metadata import deliveries, events, subscriptions
from storage.metadata.engine import Database
from storage.metadata.events import EventRow
from storage.metadata.subscriptions import SubscriptionRow

BATCH = 500


def event_tags(event: EventRow) -> list[str]:
    tags = event.data.get("tags")
    found = [str(tag) for tag in tags] if isinstance(tags, list) else []
    return found + ([str(event.data["tag"])] if event.data.get("tag") else [])


def wants_kind(patterns: list[str], kind: str) -> bool:
    """Whether a subscription's kinds select `kind`: no patterns means every kind that is not
    opt-in; opt-in kinds must be named."""
    known = event_kinds.find(kind)
    if known is not None and known.opt_in:
        return kind in patterns
    return not patterns or any(wildcard.matches(pattern, kind) for pattern in patterns)


def matches(subscription: SubscriptionRow, event: EventRow, renders: Callable[[str], bool]) -> bool:
    if event.seq <= subscription.since_event or not wants_kind(subscription.events, event.kind):
        return False
    if subscription.repositories and not (
        event.repository and any(wildcard.matches(p, event.repository) for p in subscription.repositories)
    ):
        return False
    if subscription.tags:
        tags = event_tags(event)
        if not any(wildcard.matches(pattern, tag) for pattern in subscription.tags for tag in tags):
            return False
    return renders(event.kind)


def fan_out(db: Database, renders: Callable[[SubscriptionRow, str], bool]) -> int:
    """Fan out up to BATCH events; returns how many. `renders(subscription, kind)`: whether the
    subscription's format (or handler) takes that kind."""
    with db.read() as conn:
        if not events.any_unfanned(conn):
            return 0
    with db.write(durable=False) as conn:
        if not events.lock_fanout(conn):
            return 0
        found = events.unfanned(conn, BATCH)
        if not found:
            return 0
        listed = subscriptions.listing(conn, enabled_only=True)
        pairs = [
            (sub.id, event.seq)
            for event in found
            for sub in listed
            if matches(sub, event, functools.partial(renders, sub))
        ]
        deliveries.add(conn, pairs, time.time())
        events.mark_fanned(conn, [event.seq for event in found])
    return len(found)
