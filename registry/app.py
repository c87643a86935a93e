"""The application factory: each area contributes its routes and background workers."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Coroutine
from functools import partial
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp

from storage.digest import DigestError
from storage.drivers.base import StorageUnavailable
from storage.errors import StoreError
from storage.metadata.locks import run_exclusively

from . import logs
from .api import base, blobs, manifests, ops, uploads
from .auth import token_endpoint
from .auth.gate import need_of
from .config import Settings
from .ecr import protocol as ecr
from .errors import OCIError, Problem, error_response
from .jobs import every
from .middleware import RequestContext
from .services import Services, open_services

RESOLVED_CONFIG_ENV = "CAIS_RESOLVED_CONFIG"
LEASE = 3600.0  # scheduled jobs that outlive this may overlap, which they tolerate


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


def _jobs(settings: Settings, services: Services) -> list[Coroutine[Any, Any, None]]:
    """Every worker runs these; the ones that must not overlap take a lease in the database."""
    expire_uploads = partial(services.uploads.expire, settings.uploads.expire_after)
    threads = services.threads
    jobs = [
        every(threads, "upload sweep", settings.uploads.sweep_interval, expire_uploads),
        every(threads, "pull times", settings.pulls.flush_interval, services.pulls.flush),
    ]
    if settings.lifecycle.enabled:
        lifecycle = partial(run_exclusively, services.db, "lifecycle", LEASE, services.lifecycle.run_all)
        jobs.append(every(threads, "lifecycle", settings.lifecycle.interval, lifecycle))
    if settings.gc.enabled:
        collect = partial(run_exclusively, services.db, "gc", LEASE, services.collector.collect)
        jobs.append(every(threads, "garbage collection", settings.gc.interval, collect))
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
        + ecr.routes(services)
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
    return RequestContext(app, log_access=settings.log.access)


def app_from_env() -> ASGIApp:
    """Entry point for uvicorn workers: `cais serve` hands the resolved settings over in JSON."""
    settings = Settings.from_json(os.environ[RESOLVED_CONFIG_ENV])
    logs.setup(settings.log.level, settings.log.format)
    return build_app(settings)
