"""The in-process subscriber interface (hooks/subscribers.py): the delivery loop hands events
to a named handler with the guarantees of a webhook (retry after a failure, in order, the
request to retry later honoured), through the same database rows."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

from hooks.backoff import Backoff
from hooks.dispatch import DeliverySettings, Dispatcher
from hooks.formats import Origin
from hooks.signing import Keyring
from hooks.subscribers import Event, Retry, Subscriber
from storage import actor, event_kinds
from storage.metadata import migrate, subscriptions
from storage.metadata.engine import Database
from storage.metadata.repositories import Settings
from storage.metadata.schema import deliveries, events
from storage.pulls import PullRecorder
from storage.repository_store import RepositoryStore
from storage.threads import Threads


def test_a_subscriber_gets_events_in_order_again_after_failures(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'metadata.db'}")
    migrate.upgrade(db)
    handled: list[tuple[str, str | None]] = []
    failures = {"team/first": [RuntimeError("scanner busy"), Retry(0.1)]}

    def handle(event: Event) -> None:
        created = event.payload(event_kinds.REPOSITORY_CREATED)
        assert created.settings["tagMutability"] == "MUTABLE"
        pending = failures.get(event.repository or "")
        if pending:
            raise pending.pop(0)
        handled.append((event.kind, event.repository))

    subscriber = Subscriber("recorder", handle, events=("repository.created",), repositories=("team/*",))
    settings = DeliverySettings(backoff=Backoff(attempts=5, base=0.05, cap=0.2), poll_interval=0.05)
    origin = Origin("http://127.0.0.1:5000", "test", "us-east-1", "000000000000")
    dispatcher = Dispatcher(db, Threads(), settings, origin, Keyring(str(tmp_path)), [subscriber])
    dispatcher.register_subscribers()
    store = RepositoryStore(db)
    for name in ("team/first", "other/skipped", "team/second"):
        store.create(name, Settings(), {})

    async def deliver() -> None:
        task = asyncio.ensure_future(dispatcher.run())
        deadline = time.monotonic() + 15
        while len(handled) < 2 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        task.cancel()

    asyncio.run(deliver())
    assert handled == [("repository.created", "team/first"), ("repository.created", "team/second")]
    with db.read() as conn:
        rows = conn.execute(deliveries.select().order_by(deliveries.c.id)).fetchall()
    assert [(row.state, row.attempts) for row in rows] == [("delivered", 3), ("delivered", 1)]
    db.dispose()


def test_pulls_become_events_only_when_a_subscription_asks(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'metadata.db'}")
    migrate.upgrade(db)
    pulls = PullRecorder(db)

    def pulled_events() -> list[tuple[str, str, str]]:
        with db.read() as conn:
            query = events.select().where(events.c.type == "image.pulled").order_by(events.c.id)
            return [(row.actor_name, row.repository, row.payload) for row in conn.execute(query)]

    pulls.record("team/app", "sha256:aa")
    pulls.flush()
    assert pulled_events() == []
    with db.write() as conn:
        values = {
            "name": "pulls",
            "kind": "webhook",
            "url": "http://127.0.0.1:9/",
            "format": "cais",
            "options": {},
            "repositories": [],
            "tags": [],
            "events": ["image.pulled"],
            "since_event": 0,
        }
        subscriptions.create(conn, values)
    with actor.acting(actor.Actor("robot", "ci")):
        for _ in range(3):
            pulls.record("team/app", "sha256:aa")  # a storm of pulls is one event per image and puller
    pulls.flush()
    ((name, repository, payload),) = pulled_events()
    assert (name, repository, json.loads(payload)["pulls"]) == ("ci", "team/app", 3)
    db.dispose()
