"""Operational endpoints: /healthz and /metrics."""

from __future__ import annotations

from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .. import metrics
from ..auth.gate import Need
from ..errors import OCIError, Problem
from ..services import Services


def routes(services: Services) -> list[Route]:
    def check_database() -> None:
        with services.db.read() as conn:
            conn.execute(text("SELECT 1"))

    @services.guard.requires(Need.PUBLIC)
    async def healthz(request: Request) -> Response:
        try:
            await services.threads.run(check_database)
        except Exception as exc:
            raise OCIError(Problem.UNAVAILABLE, f"metadata database unreachable: {type(exc).__name__}") from exc
        return JSONResponse({"status": "ok"})

    @services.guard.requires(Need.PUBLIC)
    async def metrics_endpoint(request: Request) -> Response:
        return Response(await services.threads.run(metrics.exposition), media_type="text/plain; version=0.0.4")

    return [
        Route("/healthz", healthz, methods=["GET", "HEAD"]),
        Route("/metrics", metrics_endpoint, methods=["GET"]),
    ]
