"""Subscription rows: webhooks and in-process subscribers, their filters, and the lease that
lets one process at a time (of every worker and replica) deliver a subscription's events."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, delete, or_, select, update

from .schema import subscriptions
from .upsert import insert_ignore


@dataclass(frozen=True, slots=True)
class SubscriptionRow:
    id: int
    name: str
    kind: str  # webhook | internal
    url: str | None
    format: str
    options: dict[str, Any]
    repositories: list[str]
    tags: list[str]
    events: list[str]
    secrets: bytes | None
    enabled: bool
    disabled_reason: str | None
    since_event: int
    created_at: float
    updated_at: float


def _row(record: Any) -> SubscriptionRow:
    return SubscriptionRow(
        id=record.id,
        name=record.name,
        kind=record.kind,
        url=record.url,
        format=record.format,
        options=json.loads(record.options),
        repositories=json.loads(record.repositories),
        tags=json.loads(record.tags),
        events=json.loads(record.events),
        secrets=record.secrets,
        enabled=bool(record.enabled),
        disabled_reason=record.disabled_reason,
        since_event=record.since_event,
        created_at=record.created_at,
        updated_at=record.updated_at,
    )


def columns(values: dict[str, Any]) -> dict[str, Any]:
    """Row values with the JSON columns encoded."""
    encoded = {
        key: json.dumps(value) if key in ("options", "repositories", "tags", "events") else value
        for key, value in values.items()
    }
    return encoded


def create(conn: Connection, values: dict[str, Any]) -> bool:
    """False when the name is taken."""
    now = time.time()
    row = {"enabled": True, "created_at": now, "updated_at": now, **columns(values)}
    return insert_ignore(conn, subscriptions, row).rowcount == 1


def get(conn: Connection, name: str, lock: bool = False) -> SubscriptionRow | None:
    query = select(subscriptions).where(subscriptions.c.name == name)
    record = conn.execute(query.with_for_update() if lock else query).first()
    return _row(record) if record is not None else None


def by_ids(conn: Connection, ids: list[int]) -> dict[int, SubscriptionRow]:
    return {r.id: _row(r) for r in conn.execute(select(subscriptions).where(subscriptions.c.id.in_(ids)))}


def listing(conn: Connection, enabled_only: bool = False) -> list[SubscriptionRow]:
    query = select(subscriptions).order_by(subscriptions.c.name)
    if enabled_only:
        query = query.where(subscriptions.c.enabled.is_(True))
    return [_row(record) for record in conn.execute(query)]


def change(conn: Connection, subscription_id: int, values: dict[str, Any]) -> None:
    values = {**columns(values), "updated_at": time.time()}
    conn.execute(update(subscriptions).where(subscriptions.c.id == subscription_id).values(**values))


def remove(conn: Connection, subscription_id: int) -> None:
    conn.execute(delete(subscriptions).where(subscriptions.c.id == subscription_id))


def claim(conn: Connection, subscription_id: int, holder: str, seconds: float) -> bool:
    """Take (or extend) the lease on an enabled subscription unless another live holder has it."""
    now = time.time()
    free = or_(
        subscriptions.c.lease_holder.is_(None),
        subscriptions.c.lease_expires < now,
        subscriptions.c.lease_holder == holder,
    )
    statement = (
        update(subscriptions)
        .where(subscriptions.c.id == subscription_id, subscriptions.c.enabled.is_(True), free)
        .values(lease_holder=holder, lease_expires=now + seconds)
        .execution_options(preserve_rowcount=True)
    )
    return conn.execute(statement).rowcount == 1


def release(conn: Connection, subscription_id: int, holder: str) -> None:
    statement = update(subscriptions).where(
        subscriptions.c.id == subscription_id, subscriptions.c.lease_holder == holder
    )
    conn.execute(statement.values(lease_holder=None, lease_expires=None))


def leased(conn: Connection, now: float) -> set[int]:
    """Subscriptions some process holds a live lease on."""
    query = select(subscriptions.c.id).where(subscriptions.c.lease_expires >= now)
    return set(conn.execute(query).scalars())


def names_kind(conn: Connection, kind: str) -> bool:
    """Whether an enabled subscription names `kind` (opt-in kinds are written only then)."""
    return any(kind in row.events for row in listing(conn, enabled_only=True))
