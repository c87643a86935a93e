"""Prometheus metrics. With several workers, each writes its own files under
PROMETHEUS_MULTIPROC_DIR (set by `cais serve`) and /metrics sums them."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import REGISTRY as DEFAULT_REGISTRY
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from hooks.webhooks import Webhooks

REQUESTS = Counter("cais_http_requests_total", "HTTP requests served", ["route", "method", "status"])
LATENCY = Histogram(
    "cais_http_request_duration_seconds",
    "Time to serve a request",
    ["route", "method"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
BYTES_IN = Counter("cais_http_request_bytes_total", "Request body bytes received", ["route"])
BYTES_OUT = Counter("cais_http_response_bytes_total", "Response body bytes sent", ["route"])
UPLOADS = Gauge("cais_uploads_in_progress", "Upload requests streaming right now", multiprocess_mode="livesum")


@contextmanager
def uploading() -> Iterator[None]:
    UPLOADS.inc()
    try:
        yield
    finally:
        UPLOADS.dec()


class _EventBacklog(Collector):
    """What waits in the event outbox, read from the database at each scrape: the same for every
    worker and replica, so it is not kept in the per-process metric files."""

    def __init__(self, webhooks: Webhooks) -> None:
        self.webhooks = webhooks

    def collect(self) -> Iterator[Metric]:
        total, waiting, found = self.webhooks.backlog()
        yield GaugeMetricFamily("cais_events_outbox", "Events in the outbox (pruned after [events] retention)", total)
        yield GaugeMetricFamily("cais_events_unfanned", "Events not yet fanned out to subscriptions", waiting)
        pending = GaugeMetricFamily(
            "cais_event_deliveries_pending", "Deliveries waiting per subscription", labels=["subscription"]
        )
        dead = GaugeMetricFamily("cais_event_deliveries_dead", "Dead-lettered deliveries", labels=["subscription"])
        age = GaugeMetricFamily(
            "cais_event_oldest_pending_age_seconds",
            "Age of the oldest undelivered event per subscription (0: none)",
            labels=["subscription"],
        )
        now = time.time()
        for row, backlog in found:
            pending.add_metric([row.name], backlog.pending)
            dead.add_metric([row.name], backlog.dead)
            age.add_metric([row.name], now - backlog.oldest if backlog.oldest is not None else 0.0)
        yield from (pending, dead, age)


def exposition(webhooks: Webhooks | None = None) -> bytes:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        text = generate_latest(registry)
    else:
        text = generate_latest(DEFAULT_REGISTRY)
    if webhooks is not None:
        backlog = CollectorRegistry()
        backlog.register(_EventBacklog(webhooks))
        text += generate_latest(backlog)
    return text


# The labelled children of each (route, method, status), found once: labels() validates and
# locks on every call, and every request is observed.
_children: dict[tuple[str, str, int], tuple[Counter, Histogram, Counter, Counter]] = {}


def observe(route: str, method: str, status: int, seconds: float, bytes_in: int, bytes_out: int) -> None:
    key = (route, method, status)
    children = _children.get(key)
    if children is None:
        children = (
            REQUESTS.labels(route, method, str(status)),
            LATENCY.labels(route, method),
            BYTES_IN.labels(route),
            BYTES_OUT.labels(route),
        )
        _children[key] = children
    requests, latency, received, sent = children
    requests.inc()
    latency.observe(seconds)
    if bytes_in:
        received.inc(bytes_in)
    if bytes_out:
        sent.inc(bytes_out)
