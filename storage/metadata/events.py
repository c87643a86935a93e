"""The event outbox: rows written inside the transaction of the change they announce, and the
queries of hooks/ that fan them out to subscriptions and prune them."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Connection, delete, func, insert, select, text, update

from .. import actor
from ..event_kinds import Kind
from .schema import events

P = TypeVar("P")
_INSERT = insert(events)  # built once: every push writes an event
_FANOUT_LOCK = 0x6361_6973_6661_6E  # an arbitrary constant naming the fan-out's advisory lock


@dataclass(frozen=True, slots=True)
class EventRow:
    seq: int  # the row id: the order events were written in
    event_id: str  # the uuid receivers see
    kind: str
    version: int
    repository: str | None
    data: dict[str, Any]
    created_at: float
    actor: actor.Actor

    def payload(self, kind: Kind[P]) -> P:
        """The typed payload, for an event of `kind`."""
        if kind.name != self.kind:
            raise TypeError(f"event {self.event_id} is {self.kind}, not {kind.name}")
        return kind.load(self.data)


def enqueue(conn: Connection, kind: Kind[P], repository: str | None, payload: P) -> str:
    """Write an event of `kind` in the caller's transaction; who caused it comes from
    storage.actor. Returns the event's id."""
    who = actor.current()
    event_id = str(uuid.uuid4())
    row = {
        "event_id": event_id,
        "type": kind.name,
        "version": kind.version,
        "repository": repository,
        "payload": json.dumps(kind.dump(payload), separators=(",", ":")),
        "created_at": time.time(),
        "actor_kind": who.kind,
        "actor_name": who.name,
        "request_id": who.request_id,
        "address": who.address,
    }
    conn.execute(_INSERT, row)
    return event_id


def _row(record: Any) -> EventRow:
    who = actor.Actor(record.actor_kind, record.actor_name, record.request_id, record.address)
    data = json.loads(record.payload)
    return EventRow(
        record.id, record.event_id, record.type, record.version, record.repository, data, record.created_at, who
    )


def lock_fanout(conn: Connection) -> bool:
    """Whether this transaction may fan out (one at a time, so that deliveries are numbered in
    the order events were fanned out). SQLite's write transactions are exclusive already;
    PostgreSQL takes a transaction-scoped advisory lock, without waiting."""
    if conn.dialect.name != "postgresql":
        return True
    return bool(conn.execute(text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": _FANOUT_LOCK}).scalar())


def unfanned(conn: Connection, limit: int) -> list[EventRow]:
    """Events not yet fanned out, oldest first. On PostgreSQL, ids are taken when a row is
    written and transactions commit in any order, so an older id may appear after a newer one
    was fanned out: it is picked up by the next pass, never skipped (no cursor is kept)."""
    query = select(events).where(events.c.fanned_at.is_(None)).order_by(events.c.id).limit(limit)
    return [_row(record) for record in conn.execute(query)]


def any_unfanned(conn: Connection) -> bool:
    return conn.execute(select(events.c.id).where(events.c.fanned_at.is_(None)).limit(1)).first() is not None


def mark_fanned(conn: Connection, seqs: list[int]) -> None:
    conn.execute(update(events).where(events.c.id.in_(seqs)).values(fanned_at=time.time()))


def last_seq(conn: Connection) -> int:
    return int(conn.execute(select(func.max(events.c.id))).scalar() or 0)


def by_seq(conn: Connection, seqs: list[int]) -> dict[int, EventRow]:
    return {record.id: _row(record) for record in conn.execute(select(events).where(events.c.id.in_(seqs)))}


def later(conn: Connection, kind: str, repository: str, after: int) -> list[EventRow]:
    """Events of `kind` about `repository` written after the event numbered `after`, oldest first
    (a deploy rule looks ahead for newer pushes)."""
    query = select(events).where(events.c.id > after, events.c.type == kind, events.c.repository == repository)
    return [_row(record) for record in conn.execute(query.order_by(events.c.id))]


def find(conn: Connection, event_id: str) -> EventRow | None:
    record = conn.execute(select(events).where(events.c.event_id == event_id)).first()
    return _row(record) if record is not None else None


def prune(conn: Connection, before: float, limit: int) -> int:
    """Delete up to `limit` events written before `before` (their deliveries go with them)."""
    doomed = select(events.c.id).where(events.c.created_at < before).order_by(events.c.id).limit(limit)
    ids = list(conn.execute(doomed).scalars())
    if ids:
        conn.execute(delete(events).where(events.c.id.in_(ids)))
    return len(ids)


def count(conn: Connection) -> tuple[int, int]:
    """(events in the outbox, of which not yet fanned out)."""
    total = conn.execute(select(func.count()).select_from(events)).scalar() or 0
    waiting = conn.execute(select(func.count()).where(events.c.fanned_at.is_(None))).scalar() or 0
    return int(total), int(waiting)
