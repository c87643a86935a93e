"""Prometheus metrics. With several workers, each writes its own files under
PROMETHEUS_MULTIPROC_DIR (set by `cais serve`) and /metrics sums them. What the registry holds
(blobs, repositories, images, upload sessions) is counted in the database when /metrics is
read, so every worker and replica reports the same numbers."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from prometheus_client import REGISTRY as DEFAULT_REGISTRY
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from hooks.webhooks import Webhooks
from storage.metadata import inventory
from storage.metadata.engine import Database

T = TypeVar("T")

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


class EventBacklog(Collector):
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


def exposition(*collectors: Collector) -> bytes:
    """The metrics of every worker, and what `collectors` find now."""
    registry = CollectorRegistry()
    for collector in collectors:
        registry.register(collector)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry)
    return generate_latest(DEFAULT_REGISTRY) + generate_latest(registry)


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


# -- background jobs, authentication, the database pool -----------------------------------------
JOB_RUNS = Counter(
    "cais_job_runs_total",
    "Background job runs (gc, lifecycle, uploads) by outcome: done or error",
    ["job", "outcome"],
)
JOB_DURATION = Histogram(
    "cais_job_duration_seconds",
    "Time a background job run took",
    ["job"],
    buckets=(0.01, 0.1, 1, 10, 60, 300, 1800, 3600),
)
JOB_REMOVED = Counter(
    "cais_job_removed_total",
    "What background jobs removed: gc links, blobs, bytes and manifest bodies; lifecycle images; "
    "uploads abandoned sessions",
    ["job", "what"],
)
AUTH_FAILURES = Counter(
    "cais_auth_failures_total",
    "Credentials refused: a wrong password or secret (login), an invalid bearer token (token), a bad "
    "AWS signature or unknown access key (signature)",
    ["kind"],
)
AUTH_THROTTLED = Counter(
    "cais_auth_throttled_total", "Logins refused with 429 after too many failures from one client address"
)
DB_POOL_IN_USE = Gauge(
    "cais_db_pool_connections_in_use", "Database connections checked out of the pools", multiprocess_mode="livesum"
)
DB_POOL_LIMIT = Gauge(
    "cais_db_pool_connections_limit", "Database connections the pools may open", multiprocess_mode="livesum"
)


def measured(job: str, run: Callable[[], T], removed: Callable[[T], dict[str, int]]) -> Callable[[], T]:
    """`run`, counted: its outcome, duration and what it removed."""

    def counted() -> T:
        started = time.perf_counter()
        try:
            result = run()
        except Exception:
            JOB_RUNS.labels(job, "error").inc()
            raise
        JOB_DURATION.labels(job).observe(time.perf_counter() - started)
        JOB_RUNS.labels(job, "done").inc()
        for what, count in removed(result).items():
            if count:
                JOB_REMOVED.labels(job, what).inc(count)
        return result

    return counted


def sample_pool(db: Database) -> None:
    in_use, limit = db.pool_use()
    DB_POOL_IN_USE.set(in_use)
    DB_POOL_LIMIT.set(limit)


class Holdings:
    """What the registry holds, read from the database at each scrape."""

    def __init__(self, db: Database, backend: str) -> None:
        self.db = db
        self.backend = backend

    def collect(self) -> Iterator[Metric]:
        found = inventory.take(self.db)
        blobs = GaugeMetricFamily("cais_storage_blobs", "Blobs stored", labels=["backend"])
        blobs.add_metric([self.backend], found.blobs)
        size = GaugeMetricFamily("cais_storage_blob_bytes", "Bytes of the blobs stored", labels=["backend"])
        size.add_metric([self.backend], found.blob_bytes)
        yield blobs
        yield size
        yield GaugeMetricFamily("cais_repositories", "Repositories", value=found.repositories)
        yield GaugeMetricFamily("cais_images", "Images (manifests) over all repositories", value=found.images)
        yield GaugeMetricFamily(
            "cais_upload_sessions",
            "Upload sessions open (in progress, or abandoned and not yet expired)",
            value=found.upload_sessions,
        )
