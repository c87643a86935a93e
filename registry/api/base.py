"""GET /v2/ (API version check) and /v2/_catalog."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..services import Services
from .common import next_link, page_size, reading

CATALOG_DEFAULT = 1000
CATALOG_MAX = 10000


def routes(services: Services) -> list[Route]:
    async def version_check(request: Request) -> Response:
        return JSONResponse({})

    async def catalog(request: Request) -> Response:
        limit = page_size(request, CATALOG_DEFAULT, CATALOG_MAX)
        after = request.query_params.get("last", "")
        page = await reading(services.db, services.manifests.catalog, after, limit) if limit else None
        names = page.items if page else []
        headers = {}
        if page and page.more:
            headers["Link"] = next_link("/v2/_catalog", {"last": names[-1], "n": str(limit)})
        return JSONResponse({"repositories": names}, headers=headers)

    return [
        Route("/v2/", version_check, methods=["GET", "HEAD"]),
        Route("/v2/_catalog", catalog, methods=["GET"]),
    ]
