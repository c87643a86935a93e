"""In-process subscribers: named handlers that consume events with the guarantees webhooks have.

    from hooks.subscribers import Event, Retry, Subscriber
    from storage.event_kinds import IMAGE_PUSHED

    def scan_on_push(event: Event) -> None:
        pushed = event.payload(IMAGE_PUSHED)  # typed: event_kinds.ImagePushed
        if not wanted(event.repository):
            return  # handled: nothing to do
        if busy():
            raise Retry(60)  # again in a minute (any other exception: again after a backoff)
        scan(event.repository, pushed.digest)

    SCANNER = Subscriber("scanner", scan_on_push, events=("image.pushed",))

The composition root lists them (registry/services.py: `subscribers=[SCANNER]`), and the
delivery loop that every serving worker and replica runs (hooks/dispatch.py) does the rest:

- Durable: the fan-out writes a delivery row per (subscriber, event) for every event that
  matches `events` (kind names or wildcards such as `image.*`) and `repositories` (patterns such
  as `team/*`; none: every repository), from the first start of a process that knows the
  subscriber on. The rows live in the database, beside the webhooks' (table `deliveries`), so
  nothing is lost across restarts or crashes.
- At least once: a handler that returns has handled the event. One that raises, or whose
  process dies meanwhile, gets the event again later, with exponential backoff, until
  `[events] max_attempts`; then the delivery is dead-lettered, and `cais webhook deliveries
  NAME --failed` and `cais webhook redeliver NAME ...` work on it as on a webhook's. Handlers
  must therefore be idempotent (`event.id` identifies an event across repeats).
- Ordered per subscriber: one event at a time per subscriber across every worker and replica
  (a lease on the subscriber's row in `subscriptions`), in the order the events were written;
  an event that fails holds back the ones after it until it succeeds or is dead-lettered.
- Off the request path: handlers run in a worker thread (blocking code is fine) of whichever
  process holds the lease, which renews it while the handler runs.

A subscriber consumes events; a module that also emits events defines its kinds with
storage.event_kinds.Kind and writes them with storage.metadata.events.enqueue, in the
transaction of the change they announce.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from storage.metadata.events import EventRow

Event = EventRow  # what handlers receive: id, kind, version, repository, data, actor, payload(kind)
NAME_RE = re.compile(r"^[a-z][a-z0-9-]{0,62}$")


class Retry(Exception):
    """Raised by a handler: deliver this event again in `after` seconds rather than after the
    usual backoff. It counts as an attempt, so that no event is retried forever."""

    def __init__(self, after: float, reason: str = "") -> None:
        super().__init__(reason or f"retry in {after:g}s")
        self.after = after


@dataclass(frozen=True)
class Subscriber:
    name: str  # unique among subscribers and webhooks; shown by `cais webhook list`
    handle: Callable[[Event], None]
    events: tuple[str, ...]  # kind names or wildcards; opt-in kinds (image.pulled) only by name
    repositories: tuple[str, ...] = ()  # patterns; () for every repository (and events without one)

    def __post_init__(self) -> None:
        if not NAME_RE.match(self.name):
            raise ValueError(f"subscriber name {self.name!r}: lowercase letters, digits and dashes")
        if not self.events:
            raise ValueError(f"subscriber {self.name} names no event kind")
