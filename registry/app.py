"""The application factory: each area contributes its routes and background workers."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Coroutine
from functools import partial
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp

from hooks import retention
from hooks.scan.worker import prune_scans
from storage.digest import DigestError
from storage.drivers.base import StorageUnavailable
from storage.errors import StoreError
from storage.gc import Result as CollectionResult
from storage.lifecycle.runner import Expired
from storage.metadata.locks import run_exclusively

from . import handover, logs
from .api import base, blobs, deploys, manifests, ops, uploads, webhooks
from .auth import token_endpoint
from .auth.gate import need_of
from .aws import protocol as aws
from .cloudwatch import protocol as cloudwatch
from .config import Settings
from .deploy import scheduler
from .ecr import protocol as ecr
from .ecs import protocol as ecs
from .errors import OCIError, Problem, error_response
from .jobs import every
from .metrics import measured, sample_pool
from .middleware import RequestContext
from .services import Services, open_services

LEASE = 3600.0  # scheduled jobs that outlive this may overlap, which they tolerate
POOL_SAMPLE_INTERVAL = 5.0  # each worker's database pool use, for /metrics
SCAN_PRUNE_INTERVAL = 3600.0


async def _error(request: Request, exc: Exception) -> Response:
    # Async on purpose: Starlette runs a plain function handler in a worker thread, a thread hop
    # for every 404 (clients probe blobs with HEAD before pushing them).
    return error_response(request, exc)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    problem = Problem.METHOD_NOT_ALLOWED if exc.status_code == 405 else Problem.NOT_FOUND
    return error_response(request, OCIError(problem))


async def _disconnected(request: Request, exc: Exception) -> Response:
    # Nobody is listening any more; the upload engine already saved what arrived.
    return Response(status_code=400)


def _expired(expired: list[Expired]) -> dict[str, int]:
    return {"images": len(expired)}


def _collected(result: CollectionResult) -> dict[str, int]:
    return {"links": result.links, "blobs": result.blobs, "bytes": result.bytes, "manifest_bodies": result.bodies}


def _pruned(events: int) -> dict[str, int]:
    return {"events": events}


def _jobs(settings: Settings, services: Services) -> list[Coroutine[Any, Any, None]]:
    """Every worker runs these; the ones that must not overlap take a lease in the database."""
    expire = partial(services.uploads.expire, settings.uploads.expire_after)
    expire_uploads = measured("uploads", expire, lambda removed: {"abandoned_sessions": removed})
    threads = services.threads
    jobs = [
        every(threads, "upload sweep", settings.uploads.sweep_interval, expire_uploads),
        every(threads, "pull times", settings.pulls.flush_interval, services.pulls.flush),
        every(threads, "pool sample", POOL_SAMPLE_INTERVAL, partial(sample_pool, services.db)),
    ]
    if settings.lifecycle.enabled:
        lifecycle = measured("lifecycle", services.lifecycle.run_all, _expired)
        one_lifecycle = partial(run_exclusively, services.db, "lifecycle", LEASE, lifecycle)
        jobs.append(every(threads, "lifecycle", settings.lifecycle.interval, one_lifecycle))
    if settings.gc.enabled:
        collect = measured("gc", services.collector.collect, _collected)
        one_collection = partial(run_exclusively, services.db, "gc", LEASE, collect)
        jobs.append(every(threads, "garbage collection", settings.gc.interval, one_collection))
    if settings.scan.enabled:
        jobs.append(services.scans.run_forever(threads, settings.scan.poll_interval))
        prune_scan = partial(run_exclusively, services.db, "scan prune", LEASE, partial(prune_scans, services.db))
        jobs.append(every(threads, "scan prune", SCAN_PRUNE_INTERVAL, prune_scan))
    prune = measured("events", partial(retention.prune, services.db, settings.events.retention), _pruned)
    prune_once = partial(run_exclusively, services.db, "event retention", LEASE, prune)
    jobs.append(every(threads, "event retention", settings.events.prune_interval, prune_once))
    jobs.append(services.dispatcher().run())
    if settings.deployer.enabled:
        jobs.append(scheduler(services).run())
    return jobs


def _check_guarded(routes: list[Route]) -> None:
    """Fail closed: a route that does not declare what it needs would be open to anyone."""
    unguarded = [route.path for route in routes if need_of(route.endpoint) is None]
    if unguarded:
        raise RuntimeError(f"routes without an access declaration: {unguarded}")


def build_app(settings: Settings, services: Services | None = None) -> ASGIApp:
    services = services or open_services(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        tasks = [asyncio.ensure_future(job) for job in _jobs(settings, services)]
        try:
            yield
        finally:
            services.scans.stopping = True  # a scan in progress goes back to the queue
            for task in tasks:
                task.cancel()
            await services.threads.run(services.pulls.flush)
            await services.aclose()

    routes = (
        base.routes(services)
        + uploads.routes(services)
        + blobs.routes(services)
        + manifests.routes(services)
        + ops.routes(services)
        + aws.routes(services, [ecr.api(services), ecs.api(services), cloudwatch.api(services)])
        + webhooks.routes(services)
        + deploys.routes(services)
        + (token_endpoint.routes(services.authority, services.guard) if services.authority else [])
    )
    if settings.ui.enabled:
        from .console import routes as console_routes  # only then: serving workers never load Jinja2

        routes += console_routes(services)
    _check_guarded(routes)
    handlers = {
        OCIError: _error,
        StoreError: _error,
        DigestError: _error,
        StorageUnavailable: _error,
        HTTPException: _http_error,
        ClientDisconnect: _disconnected,
        Exception: _error,
    }
    app = Starlette(routes=routes, exception_handlers=handlers, lifespan=lifespan)
    return RequestContext(ops.metrics_address_only(app, settings.metrics), log_access=settings.log.access)


def app_from_env() -> ASGIApp:
    """Entry point for uvicorn workers: `cais serve` hands the resolved settings over (handover)."""
    settings = handover.received()
    logs.setup(settings.log.level, settings.log.format)
    return build_app(settings)
