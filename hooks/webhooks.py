"""Managing webhooks: what `cais webhook ...` and /api/v1/webhooks do, over the same rows the
delivery loop works (hooks/dispatch.py). In-process subscribers are listed too, and can be
disabled, inspected and redelivered, but not changed or removed: their code defines them."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any

from storage import event_kinds
from storage.errors import EventUnknown, SubscriptionExists, SubscriptionInvalid, SubscriptionUnknown
from storage.metadata import deliveries, events, subscriptions
from storage.metadata.deliveries import DEAD, DELIVERED, Backlog, Listed
from storage.metadata.engine import Database
from storage.metadata.events import EventRow
from storage.metadata.subscriptions import SubscriptionRow
from storage.threads import Threads

from . import destinations, sender, signing
from .dispatch import DeliverySettings
from .formats import Origin, formats

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
PATTERN_RE = re.compile(r"^[^\s]{1,255}$")
ROTATION = 86400.0  # how long an old secret keeps signing after a rotation, by default


@dataclass(frozen=True)
class Spec:
    """A webhook as an operator describes it."""

    url: str
    format: str = "cais"
    repositories: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    events: list[str] = field(default_factory=list)
    timeout: float | None = None  # None: [events] timeout
    binary: bool = False  # cloudevents: binary content mode
    version: int = 2  # distribution: the envelope's media type version
    github_signature: bool = False  # also X-Hub-Signature-256

    def options(self) -> dict[str, Any]:
        return {
            "timeout": self.timeout,
            "binary": self.binary,
            "version": self.version,
            "github_signature": self.github_signature,
        }


def spec_of(row: SubscriptionRow) -> Spec:
    options = row.options
    return Spec(
        url=row.url or "",
        format=row.format,
        repositories=row.repositories,
        tags=row.tags,
        events=row.events,
        timeout=options.get("timeout"),
        binary=bool(options.get("binary")),
        version=int(options.get("version", 2)),
        github_signature=bool(options.get("github_signature")),
    )


def check(spec: Spec, allow_link_local: bool) -> None:
    destinations.check_url(spec.url)
    try:
        destinations.check_host(spec.url, allow_link_local)
    except destinations.Refused as exc:
        raise SubscriptionInvalid(str(exc)) from None
    if spec.format not in formats():
        raise SubscriptionInvalid(f"unknown format {spec.format!r}: use one of {', '.join(sorted(formats()))}")
    known = event_kinds.registered()
    for kind in spec.events:
        if "*" not in kind and kind not in known:
            raise SubscriptionInvalid(f"unknown event kind {kind!r}; known kinds: {', '.join(sorted(known))}")
    for pattern in spec.repositories + spec.tags + spec.events:
        if not PATTERN_RE.match(pattern):
            raise SubscriptionInvalid(f"invalid pattern {pattern[:100]!r}")
    if spec.timeout is not None and not 0 < spec.timeout <= 300:
        raise SubscriptionInvalid("timeout must be more than 0 and at most 300 seconds")
    if spec.version not in (1, 2):
        raise SubscriptionInvalid("the distribution envelope version is 1 or 2")


class Webhooks:
    def __init__(
        self, db: Database, threads: Threads, keyring: signing.Keyring, settings: DeliverySettings, origin: Origin
    ) -> None:
        self.db = db
        self.threads = threads
        self.keyring = keyring
        self.settings = settings
        self.origin = origin

    # -- reads ----------------------------------------------------------------------------------
    def get(self, name: str) -> SubscriptionRow:
        with self.db.read() as conn:
            found = subscriptions.get(conn, name)
        if found is None:
            raise SubscriptionUnknown(f"no webhook named {name}", {"name": name})
        return found

    def listing(self) -> list[SubscriptionRow]:
        with self.db.read() as conn:
            return subscriptions.listing(conn)

    def show(self, name: str) -> dict[str, Any]:
        found = self.get(name)
        with self.db.read() as conn:
            backlog = deliveries.backlog(conn).get(found.id, Backlog(0, None, 0))
        return describe(found, backlog, self.keyring.unseal(found.secrets) if found.secrets else None)

    def deliveries(self, name: str, failed_only: bool, limit: int = 100) -> list[Listed]:
        subscription = self.get(name)
        with self.db.read() as conn:
            return deliveries.listing(conn, subscription.id, failed_only, limit)

    def backlog(self) -> tuple[int, int, list[tuple[SubscriptionRow, Backlog]]]:
        """Events in the outbox, of which not yet fanned out, and what waits for each subscription."""
        with self.db.read() as conn:
            total, waiting = events.count(conn)
            found = deliveries.backlog(conn)
            rows = subscriptions.listing(conn)
        empty = Backlog(0, None, 0)
        return total, waiting, [(row, found.get(row.id, empty)) for row in rows]

    # -- changes --------------------------------------------------------------------------------
    def add(self, name: str, spec: Spec, secret: str | None) -> tuple[SubscriptionRow, str]:
        """The new webhook and its secret (generated unless given)."""
        if not NAME_RE.match(name):
            raise SubscriptionInvalid(f"invalid webhook name {name[:100]!r}: letters, digits, '.', '_' and '-'")
        check(spec, self.settings.allow_link_local)
        secret = signing.check_secret(secret) if secret else signing.new_secret()
        sealed = self.keyring.seal([signing.Secret(secret)])
        with self.db.write() as conn:
            values = self._values(spec) | {"name": name, "kind": "webhook", "secrets": sealed}
            if not subscriptions.create(conn, values | {"since_event": events.last_seq(conn)}):
                raise SubscriptionExists(f"a webhook or subscriber named {name} exists", {"name": name})
            found = subscriptions.get(conn, name)
        assert found is not None
        return found, secret

    @staticmethod
    def _values(spec: Spec) -> dict[str, Any]:
        return {
            "url": spec.url,
            "format": spec.format,
            "options": spec.options(),
            "repositories": spec.repositories,
            "tags": spec.tags,
            "events": spec.events,
        }

    def update(
        self,
        name: str,
        changes: dict[str, Any],
        rotate: bool = False,
        new_secret: str | None = None,
        keep_old: float = ROTATION,
    ) -> tuple[SubscriptionRow, str | None]:
        """Change fields of its Spec; with `rotate`, a new secret (`new_secret`, or generated)
        signs from now on beside the current one, which keeps signing for `keep_old` seconds.
        Returns the webhook and the new secret, if any."""
        with self.db.write() as conn:
            found = self._webhook(conn, name)
            spec = spec_of(found)
            try:
                spec = Spec(**{**spec.__dict__, **changes})
            except TypeError as exc:
                raise SubscriptionInvalid(str(exc)) from None
            check(spec, self.settings.allow_link_local)
            values = self._values(spec)
            fresh = None
            if rotate:
                fresh = signing.check_secret(new_secret) if new_secret else signing.new_secret()
                now = time.time()
                kept = [s for s in self.keyring.unseal(found.secrets) if s.active(now)][:1]
                old = [signing.Secret(s.value, now + keep_old if keep_old > 0 else now) for s in kept]
                values["secrets"] = self.keyring.seal([signing.Secret(fresh), *[s for s in old if s.active(now)]])
            subscriptions.change(conn, found.id, values)
            changed = subscriptions.get(conn, name)
        assert changed is not None
        return changed, fresh

    def set_enabled(self, name: str, enabled: bool) -> SubscriptionRow:
        with self.db.write() as conn:
            found = subscriptions.get(conn, name, lock=True)
            if found is None:
                raise SubscriptionUnknown(f"no webhook named {name}", {"name": name})
            reason = None if enabled else "disabled by an operator"
            subscriptions.change(conn, found.id, {"enabled": enabled, "disabled_reason": reason})
            changed = subscriptions.get(conn, name)
        assert changed is not None
        return changed

    def remove(self, name: str) -> None:
        with self.db.write() as conn:
            subscriptions.remove(conn, self._webhook(conn, name).id)

    def redeliver(self, name: str, event_id: str | None = None, since: float | None = None) -> int:
        """Send an event (by id) or every event fanned out to it since a time again; returns how many."""
        with self.db.write() as conn:
            found = subscriptions.get(conn, name, lock=True)
            if found is None:
                raise SubscriptionUnknown(f"no webhook named {name}", {"name": name})
            if event_id is not None:
                event = events.find(conn, event_id)
                if event is None:
                    raise EventUnknown(f"no event {event_id} (events are kept for [events] retention)")
                seqs = [event.seq]
            else:
                seqs = deliveries.seqs_since(conn, found.id, since or 0.0)
            return deliveries.redeliver(conn, found.id, seqs)

    async def test(self, name: str) -> sender.Outcome:
        """Send a webhook.ping event to this webhook now, outside its queue; recorded with its deliveries."""
        import httpx

        found, event = await self.threads.run(self._ping, name)
        spec = spec_of(found)
        target = sender.Target(
            url=spec.url,
            format=formats()[spec.format],
            options=found.options,
            secrets=await self.threads.run(self.keyring.unseal, found.secrets),
            timeout=spec.timeout or self.settings.timeout,
            allow_link_local=self.settings.allow_link_local,
        )
        async with httpx.AsyncClient(follow_redirects=False, timeout=None) as client:
            outcome = await sender.send(client, self.threads, target, event, self.origin)
        await self.threads.run(self._record_ping, found, event, outcome)
        return outcome

    def _ping(self, name: str) -> tuple[SubscriptionRow, EventRow]:
        found = self.get(name)
        if found.kind != "webhook":
            raise SubscriptionInvalid(f"{name} is an in-process subscriber, not a webhook")
        with self.db.write() as conn:
            event_id = events.enqueue(conn, event_kinds.WEBHOOK_PING, None, event_kinds.Ping(name))
            event = events.find(conn, event_id)
            assert event is not None
            events.mark_fanned(conn, [event.seq])  # for this webhook only
        return found, event

    def _record_ping(self, found: SubscriptionRow, event: EventRow, outcome: sender.Outcome) -> None:
        with self.db.write() as conn:
            state = DELIVERED if outcome.delivered else DEAD
            deliveries.record(conn, found.id, event.seq, state, outcome.status, outcome.error)

    @staticmethod
    def _webhook(conn: Any, name: str) -> SubscriptionRow:
        found = subscriptions.get(conn, name, lock=True)
        if found is None:
            raise SubscriptionUnknown(f"no webhook named {name}", {"name": name})
        if found.kind != "webhook":
            raise SubscriptionInvalid(f"{name} is an in-process subscriber: its code defines it")
        return found


def describe(
    row: SubscriptionRow, backlog: Backlog | None = None, held: list[signing.Secret] | None = None
) -> dict[str, Any]:
    """A subscription as the command line and the API show it (never its secrets)."""
    found: dict[str, Any] = {
        "name": row.name,
        "kind": row.kind,
        "url": row.url,
        "format": row.format,
        "events": row.events,
        "repositories": row.repositories,
        "tags": row.tags,
        "enabled": row.enabled,
        "disabledReason": row.disabled_reason,
        "createdAt": row.created_at,
        "updatedAt": row.updated_at,
    }
    if row.kind == "webhook":
        found["options"] = row.options
    if held is not None:
        found["secrets"] = [{"expiresAt": secret.until} for secret in held]
    if backlog is not None:
        found["pending"] = backlog.pending
        found["dead"] = backlog.dead
        found["oldestPendingAt"] = backlog.oldest
    return found


def describe_delivery(listed: Listed) -> dict[str, Any]:
    delivery = listed.delivery
    return {
        "eventId": listed.event_id,
        "type": listed.kind,
        "eventTime": listed.event_time,
        "state": delivery.state,
        "attempts": delivery.attempts,
        "lastAttemptAt": delivery.last_attempt_at,
        "lastStatus": delivery.last_status,
        "lastError": delivery.last_error,
        "nextAttemptAt": delivery.next_attempt_at if delivery.state == "pending" else None,
    }
