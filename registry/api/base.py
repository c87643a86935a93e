"""GET /v2/ (API version check) and /v2/_catalog."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..auth.gate import Need, access_of
from ..services import Services
from .common import next_link, page_size, reading

CATALOG_DEFAULT = 1000
CATALOG_MAX = 10000


def routes(services: Services) -> list[Route]:
    guard = services.guard

    @guard.requires(Need.LOGIN)
    async def version_check(request: Request) -> Response:
        return JSONResponse({})

    @guard.requires(Need.CATALOG)
    async def catalog(request: Request) -> Response:
        limit = page_size(request, CATALOG_DEFAULT, CATALOG_MAX)
        after = request.query_params.get("last", "")
        visible = access_of(request).lists
        page = await reading(services, services.manifests.catalog, after, limit, visible) if limit else None
        names = page.items if page else []
        headers = {}
        if page and page.more:
            headers["Link"] = next_link("/v2/_catalog", {"last": names[-1], "n": str(limit)})
        return JSONResponse({"repositories": names}, headers=headers)

    return [
        Route("/v2/", version_check, methods=["GET", "HEAD"]),
        Route("/v2/_catalog", catalog, methods=["GET"]),
    ]
