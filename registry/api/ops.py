"""Operational endpoints: /healthz (the process answers), /readyz (it can serve: the database
and the blob storage answer) and /metrics.

/metrics may be kept from the public: `[metrics] token` requires a bearer token, and
`[metrics] listen` serves it on an address of its own and nowhere else (both workers' sockets
reach the same app, which tells them apart by the local port of the connection)."""

from __future__ import annotations

import hmac

from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from deployer.metrics import DeployerMetrics

from .. import metrics
from ..auth.gate import Need
from ..config import MetricsSettings
from ..errors import OCIError, Problem
from ..services import Services


def _metrics_allowed(settings: MetricsSettings, request: Request) -> None:
    """404 on an address that does not serve metrics, 401 without the configured token."""
    server = request.scope.get("server") or ("", None)
    if settings.port is not None and server[1] != settings.port:
        raise OCIError(Problem.NOT_FOUND, "metrics are served on another address")
    if settings.token is not None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), settings.token.encode()):
            raise OCIError(Problem.UNAUTHORIZED, "metrics need a bearer token", headers={"WWW-Authenticate": "Bearer"})


OPERATIONAL = frozenset({"/metrics", "/healthz", "/readyz"})


def metrics_address_only(app: ASGIApp, settings: MetricsSettings) -> ASGIApp:
    """With `[metrics] listen`, that address serves the operational endpoints and nothing else."""
    if settings.port is None:
        return app
    not_found = Response(status_code=404)

    async def serve(scope: Scope, receive: Receive, send: Send) -> None:
        server = scope.get("server") or ("", None)
        if scope["type"] == "http" and server[1] == settings.port and scope["path"] not in OPERATIONAL:
            await not_found(scope, receive, send)
            return
        await app(scope, receive, send)

    return serve


def routes(services: Services) -> list[Route]:
    holdings = metrics.Holdings(services.db, services.settings.storage.driver)
    backlog = metrics.EventBacklog(services.webhooks)
    deployer = DeployerMetrics(services.db)

    def check_database() -> None:
        with services.db.read() as conn:
            conn.execute(text("SELECT 1"))

    @services.guard.requires(Need.PUBLIC)
    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    @services.guard.requires(Need.PUBLIC)
    async def readyz(request: Request) -> Response:
        for what, check in (("metadata database", check_database), ("blob storage", services.driver.check)):
            try:
                await services.threads.run(check)
            except Exception as exc:
                raise OCIError(Problem.UNAVAILABLE, f"{what} unreachable: {type(exc).__name__}") from exc
        return JSONResponse({"status": "ready"})

    @services.guard.requires(Need.PUBLIC)
    async def metrics_endpoint(request: Request) -> Response:
        _metrics_allowed(services.settings.metrics, request)
        metrics.sample_pool(services.db)
        body = await services.threads.run(metrics.exposition, holdings, backlog, deployer)
        return Response(body, media_type="text/plain; version=0.0.4")

    return [
        Route("/healthz", healthz, methods=["GET", "HEAD"]),
        Route("/readyz", readyz, methods=["GET", "HEAD"]),
        Route("/metrics", metrics_endpoint, methods=["GET"]),
    ]
