"""Delivery rows: one per (subscription, event), worked in id order per subscription.

A subscription's head is its pending delivery with the lowest id: the only one sent, so that a
receiver sees events in order and one request at a time. The fan-out numbers deliveries in the
order it fans events out (hooks/fanout.py), which is the order they were written."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, and_, func, select, update

from .schema import deliveries, events
from .upsert import insert_ignore

PENDING, DELIVERED, DEAD = "pending", "delivered", "dead"


@dataclass(frozen=True, slots=True)
class DeliveryRow:
    id: int
    subscription_id: int
    seq: int  # the event's row id
    state: str
    attempts: int
    next_attempt_at: float
    last_attempt_at: float | None
    last_status: int | None
    last_error: str | None
    created_at: float


@dataclass(frozen=True, slots=True)
class Listed:
    delivery: DeliveryRow
    event_id: str
    kind: str
    event_time: float


@dataclass(frozen=True, slots=True)
class Backlog:
    """What waits for one subscription: /metrics shows it."""

    pending: int
    oldest: float | None  # when the oldest undelivered event was written
    dead: int


def _row(record: Any) -> DeliveryRow:
    return DeliveryRow(
        record.id,
        record.subscription_id,
        record.event_id,
        record.state,
        record.attempts,
        record.next_attempt_at,
        record.last_attempt_at,
        record.last_status,
        record.last_error,
        record.created_at,
    )


def add(conn: Connection, pairs: list[tuple[int, int]], now: float) -> None:
    """Pending deliveries for (subscription id, event seq) pairs; pairs already there stay as they are."""
    if pairs:
        rows = [
            {
                "subscription_id": sub,
                "event_id": seq,
                "state": PENDING,
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
            }
            for sub, seq in pairs
        ]
        insert_ignore(conn, deliveries, rows)


def heads(conn: Connection) -> dict[int, float]:
    """When each subscription with pending deliveries may next send: its head's next attempt."""
    first = (
        select(deliveries.c.subscription_id, func.min(deliveries.c.id).label("head"))
        .where(deliveries.c.state == PENDING)
        .group_by(deliveries.c.subscription_id)
        .subquery()
    )
    query = select(deliveries.c.subscription_id, deliveries.c.next_attempt_at).join(
        first, deliveries.c.id == first.c.head
    )
    return {sub: at for sub, at in conn.execute(query)}


def head(conn: Connection, subscription_id: int) -> DeliveryRow | None:
    query = (
        select(deliveries)
        .where(deliveries.c.subscription_id == subscription_id, deliveries.c.state == PENDING)
        .order_by(deliveries.c.id)
        .limit(1)
    )
    record = conn.execute(query).first()
    return _row(record) if record is not None else None


def record_attempt(
    conn: Connection, delivery_id: int, state: str, status: int | None, error: str | None, next_at: float
) -> None:
    now = time.time()
    values = {
        "state": state,
        "last_status": status,
        "last_error": error,
        "last_attempt_at": now,
        "next_attempt_at": next_at,
    }
    statement = update(deliveries).where(deliveries.c.id == delivery_id)
    conn.execute(statement.values(attempts=deliveries.c.attempts + 1, **values))


def bury_behind(conn: Connection, subscription_id: int, written_before: float, error: str) -> int:
    """Dead-letter the pending deliveries of a subscription whose events are older than
    `written_before`: they waited behind a dead one for longer than their own retries would last."""
    old = select(events.c.id).where(events.c.created_at < written_before).scalar_subquery()
    statement = update(deliveries).where(
        deliveries.c.subscription_id == subscription_id,
        deliveries.c.state == PENDING,
        deliveries.c.event_id.in_(old),
    )
    return conn.execute(statement.values(state=DEAD, last_error=error)).rowcount or 0


def listing(conn: Connection, subscription_id: int, failed_only: bool, limit: int) -> list[Listed]:
    """The newest deliveries first; failed_only: dead ones and pending ones that failed at least once."""
    query = (
        select(deliveries, events.c.event_id.label("uuid"), events.c.type, events.c.created_at.label("event_time"))
        .join(events, events.c.id == deliveries.c.event_id)
        .where(deliveries.c.subscription_id == subscription_id)
    )
    if failed_only:
        failing = and_(deliveries.c.state == PENDING, deliveries.c.attempts > 0)
        query = query.where((deliveries.c.state == DEAD) | failing)
    found = conn.execute(query.order_by(deliveries.c.id.desc()).limit(limit))
    return [Listed(_row(r), r.uuid, r.type, r.event_time) for r in found]


def seqs_since(conn: Connection, subscription_id: int, moment: float) -> list[int]:
    """The events since `moment` that were fanned out to the subscription."""
    query = (
        select(deliveries.c.event_id)
        .join(events, events.c.id == deliveries.c.event_id)
        .where(deliveries.c.subscription_id == subscription_id, events.c.created_at >= moment)
    )
    return sorted(conn.execute(query).scalars())


def record(conn: Connection, subscription_id: int, seq: int, state: str, status: int | None, error: str | None) -> None:
    """A delivery made outside the queue (a test event), with its single attempt."""
    now = time.time()
    values = {"subscription_id": subscription_id, "event_id": seq, "state": state, "attempts": 1, "created_at": now}
    extra = {"next_attempt_at": now, "last_attempt_at": now, "last_status": status, "last_error": error}
    insert_ignore(conn, deliveries, values | extra)


def redeliver(conn: Connection, subscription_id: int, seqs: list[int]) -> int:
    """Send these events again (from the first attempt), whatever became of them; returns how many."""
    now = time.time()
    add(conn, [(subscription_id, seq) for seq in seqs], now)
    statement = update(deliveries).where(
        deliveries.c.subscription_id == subscription_id, deliveries.c.event_id.in_(seqs)
    )
    values = {"state": PENDING, "attempts": 0, "next_attempt_at": now, "last_error": None, "last_status": None}
    return conn.execute(statement.values(**values)).rowcount or 0


def backlog(conn: Connection) -> dict[int, Backlog]:
    query = (
        select(deliveries.c.subscription_id, deliveries.c.state, func.count(), func.min(events.c.created_at))
        .join(events, events.c.id == deliveries.c.event_id)
        .where(deliveries.c.state != DELIVERED)
        .group_by(deliveries.c.subscription_id, deliveries.c.state)
    )
    found: dict[int, Backlog] = {}
    for sub, state, count, oldest in conn.execute(query):
        before = found.get(sub, Backlog(0, None, 0))
        if state == PENDING:
            found[sub] = Backlog(int(count), oldest, before.dead)
        else:
            found[sub] = Backlog(before.pending, before.oldest, int(count))
    return found
