"""The delivery loop every serving worker and replica runs: no separate daemon, coordinated
through the database.

Each tick (`[events] poll_interval`): fan out new events (hooks/fanout.py), then find the
subscriptions whose head delivery is due and work a few of them at once (`concurrency`). To
work a subscription, a process takes the lease on its row (subscriptions.claim: a conditional
UPDATE, so exactly one process wins whatever the number of workers and replicas), then sends
its deliveries one at a time in id order, recording each attempt and renewing the lease with
it, until none is due; then it gives the lease back. A process that dies holding a lease
holds it until it runs out (the timeout of one attempt plus a margin); the delivery it was
sending is then sent again by another: at least once, with the same event id.

An attempt that fails is retried after a backoff (hooks/backoff.py), honouring Retry-After;
the deliveries behind it wait, so that receivers see events in order. After the last attempt
the delivery is dead-lettered, with those behind it that have waited longer than a whole
schedule; `cais webhook redeliver` sends them again. A 410 Gone disables the subscription.

In-process subscribers (hooks/subscribers.py) go through the same rows and leases; their
handler runs in a worker thread while the lease is renewed beside it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from prometheus_client import Counter

from storage.metadata import deliveries, events, subscriptions
from storage.metadata.deliveries import DEAD, DELIVERED, PENDING, DeliveryRow
from storage.metadata.engine import Database
from storage.metadata.subscriptions import SubscriptionRow
from storage.threads import Threads

from . import fanout, sender
from .backoff import Backoff
from .formats import Format, Origin, formats
from .signing import Keyring
from .subscribers import Retry, Subscriber

if TYPE_CHECKING:
    import httpx

log = logging.getLogger("cais.hooks")
ATTEMPTS = Counter("cais_event_delivery_attempts_total", "Event delivery attempts", ["subscription", "outcome"])
LEASE_MARGIN = 5.0  # beyond an attempt's timeout, for recording it
HANDLER_LEASE = 30.0  # in-process handlers: renewed every third of it while they run


@dataclass(frozen=True)
class DeliverySettings:
    backoff: Backoff = field(default_factory=Backoff)
    poll_interval: float = 1.0
    timeout: float = 10.0  # a webhook's, unless it sets its own
    concurrency: int = 8  # subscriptions one process works at once
    allow_link_local: bool = False


class Dispatcher:
    def __init__(
        self,
        db: Database,
        threads: Threads,
        settings: DeliverySettings,
        origin: Origin,
        keyring: Keyring,
        subscribers: list[Subscriber] | None = None,
    ) -> None:
        self.db = db
        self.threads = threads
        self.settings = settings
        self.origin = origin
        self.keyring = keyring
        self.subscribers = {subscriber.name: subscriber for subscriber in subscribers or []}
        self.formats: dict[str, Format] = formats()
        self.holder = uuid.uuid4().hex
        self._running: dict[int, asyncio.Task[None]] = {}
        self._client: httpx.AsyncClient | None = None

    # -- the loop -------------------------------------------------------------------------------
    async def run(self) -> None:
        await self.threads.run(self.register_subscribers)
        try:
            while True:
                try:
                    await self.tick()
                except Exception:
                    log.exception("event delivery tick failed")
                await asyncio.sleep(self.settings.poll_interval)
        finally:
            for task in self._running.values():
                task.cancel()
            if self._client is not None:
                await self._client.aclose()

    async def tick(self) -> None:
        while await self.threads.run(fanout.fan_out, self.db, self.renders) == fanout.BATCH:
            pass
        now = time.time()
        due = await self.threads.run(self._due, now)
        for subscription_id in due:
            if len(self._running) >= self.settings.concurrency:
                break
            if subscription_id not in self._running:
                task = asyncio.ensure_future(self._work(subscription_id))
                self._running[subscription_id] = task
                task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        for key, running in list(self._running.items()):
            if running is task:
                del self._running[key]

    def register_subscribers(self) -> None:
        """Rows for the in-process subscribers, made at the first start that knows them (they get
        the events written from then on) and kept in step with their filters."""
        with self.db.write() as conn:
            for subscriber in self.subscribers.values():
                values = {"events": list(subscriber.events), "repositories": list(subscriber.repositories)}
                found = subscriptions.get(conn, subscriber.name)
                if found is None:
                    base = {
                        "name": subscriber.name,
                        "kind": "internal",
                        "format": "internal",
                        "options": {},
                        "tags": [],
                    }
                    subscriptions.create(conn, {**base, **values, "since_event": events.last_seq(conn)})
                elif found.kind != "internal":
                    log.error("subscriber %s: a webhook has that name; its events go to the webhook", subscriber.name)
                elif [found.events, found.repositories] != [values["events"], values["repositories"]]:
                    subscriptions.change(conn, found.id, values)

    def renders(self, subscription: SubscriptionRow, kind: str) -> bool:
        if subscription.kind == "internal":
            return True
        found = self.formats.get(subscription.format)
        return found is not None and found.renders(kind)

    def _due(self, now: float) -> list[int]:
        with self.db.read() as conn:
            heads = deliveries.heads(conn)
            if not heads:
                return []
            busy = subscriptions.leased(conn, now)
            rows = subscriptions.by_ids(conn, [sub for sub, at in heads.items() if at <= now and sub not in busy])
        return sorted(sub.id for sub in rows.values() if sub.enabled and self._can_deliver(sub))

    def _can_deliver(self, subscription: SubscriptionRow) -> bool:
        if subscription.kind == "internal":
            return subscription.name in self.subscribers  # a process of another version may not know it
        return subscription.format in self.formats

    # -- one subscription ---------------------------------------------------------------------------
    async def _work(self, subscription_id: int) -> None:
        subscription = await self.threads.run(self._claim, subscription_id)
        if subscription is None:
            return
        try:
            while True:
                head = await self.threads.run(self._head, subscription.id)
                if head is None:
                    return
                delivery, event = head
                outcome = await self._attempt(subscription, event)
                if not await self.threads.run(self._record, subscription, delivery, outcome):
                    return
        except Exception:
            log.exception("delivering the events of %s failed", subscription.name)
        finally:
            with contextlib.suppress(Exception):
                await asyncio.shield(self.threads.run(self._release, subscription.id))

    def _lease(self, subscription: SubscriptionRow) -> float:
        if subscription.kind == "internal":
            return HANDLER_LEASE
        return self._timeout(subscription) + LEASE_MARGIN

    def _timeout(self, subscription: SubscriptionRow) -> float:
        return float(subscription.options.get("timeout") or self.settings.timeout)

    def _claim(self, subscription_id: int) -> SubscriptionRow | None:
        with self.db.write(durable=False) as conn:
            found = subscriptions.by_ids(conn, [subscription_id]).get(subscription_id)
            if found is None or not subscriptions.claim(conn, subscription_id, self.holder, self._lease(found)):
                return None
            return found

    def _release(self, subscription_id: int) -> None:
        with self.db.write(durable=False) as conn:
            subscriptions.release(conn, subscription_id, self.holder)

    def _head(self, subscription_id: int) -> tuple[DeliveryRow, events.EventRow] | None:
        with self.db.read() as conn:
            delivery = deliveries.head(conn, subscription_id)
            if delivery is None or delivery.next_attempt_at > time.time():
                return None
            event = events.by_seq(conn, [delivery.seq])[delivery.seq]
        return delivery, event

    async def _attempt(self, subscription: SubscriptionRow, event: events.EventRow) -> sender.Outcome:
        if subscription.kind == "internal":
            return await self._handle(subscription, event)
        target = sender.Target(
            url=subscription.url or "",
            format=self.formats[subscription.format],
            options=subscription.options,
            secrets=await self.threads.run(self.keyring.unseal, subscription.secrets),
            timeout=self._timeout(subscription),
            allow_link_local=self.settings.allow_link_local,
        )
        return await sender.send(self._http(), self.threads, target, event, self.origin)

    async def _handle(self, subscription: SubscriptionRow, event: events.EventRow) -> sender.Outcome:
        handler = self.subscribers[subscription.name].handle
        renewing = asyncio.ensure_future(self._renew_while_running(subscription))
        try:
            await self.threads.run(handler, event)
            return sender.Outcome(True)
        except Retry as exc:
            return sender.Outcome(False, error=str(exc), retry_after=exc.after)
        except Exception as exc:
            log.warning("subscriber %s failed on event %s", subscription.name, event.event_id, exc_info=True)
            return sender.Outcome(False, error=f"{type(exc).__name__}: {exc}"[: sender.ERROR_TEXT])
        finally:
            renewing.cancel()

    async def _renew_while_running(self, subscription: SubscriptionRow) -> None:
        while True:
            await asyncio.sleep(HANDLER_LEASE / 3)
            await self.threads.run(self._renew, subscription)

    def _renew(self, subscription: SubscriptionRow) -> bool:
        with self.db.write(durable=False) as conn:
            return subscriptions.claim(conn, subscription.id, self.holder, self._lease(subscription))

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            import httpx  # only processes that deliver webhooks load it

            self._client = httpx.AsyncClient(follow_redirects=False, timeout=None)
        return self._client

    def _record(self, subscription: SubscriptionRow, delivery: DeliveryRow, outcome: sender.Outcome) -> bool:
        """Record an attempt; whether to go on with the subscription (the lease is still ours)."""
        now = time.time()
        attempt = delivery.attempts + 1
        backoff = self.settings.backoff
        ATTEMPTS.labels(subscription.name, "delivered" if outcome.delivered else "failed").inc()
        with self.db.write() as conn:
            if outcome.delivered:
                deliveries.record_attempt(conn, delivery.id, DELIVERED, outcome.status, None, now)
            elif outcome.gone:
                deliveries.record_attempt(conn, delivery.id, PENDING, outcome.status, outcome.error, now)
                reason = f"the receiver answered 410 Gone at {time.strftime('%Y-%m-%d %H:%M:%S')}"
                subscriptions.change(conn, subscription.id, {"enabled": False, "disabled_reason": reason})
                log.warning("webhook %s disabled: its receiver answered 410 Gone", subscription.name)
            elif attempt >= backoff.attempts:
                deliveries.record_attempt(conn, delivery.id, DEAD, outcome.status, outcome.error, now)
                buried = deliveries.bury_behind(
                    conn, subscription.id, now - backoff.span(), "waited too long behind a dead delivery"
                )
                log.warning(
                    "%s: event dead-lettered after %d attempts (%s), %d more behind it",
                    subscription.name,
                    attempt,
                    outcome.error,
                    buried,
                )
            else:
                later = now + backoff.delay(attempt, outcome.retry_after)
                deliveries.record_attempt(conn, delivery.id, PENDING, outcome.status, outcome.error, later)
                log.info(
                    "%s: attempt %d failed (%s), next in %.0fs", subscription.name, attempt, outcome.error, later - now
                )
            return subscriptions.claim(conn, subscription.id, self.holder, self._lease(subscription))
