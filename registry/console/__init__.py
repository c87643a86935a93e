"""The web console at /ui/: server-rendered pages (Jinja2 through Starlette) with htmx for the
parts that change in place, over the same stores and the same permission checks as the APIs.

Loaded only when `[ui] enabled = true` (registry/app.py imports it then), so that serving
workers without the console never load Jinja2.

Each part of the console is a `Section` (web.py) in its own module: its routes and its entry in
the navigation bar. A new part (webhooks, findings, deployments) is one more module and one more
line in SECTIONS.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from ..auth.gate import Need
from ..services import Services
from . import access, images, lifecycle, repositories, session, webhooks
from .failures import NotFound
from .viewer import Viewer
from .web import Console, Section

SECTIONS: tuple[Section, ...] = (
    session.SECTION,
    repositories.SECTION,
    images.SECTION,
    lifecycle.SECTION,
    webhooks.SECTION,
)
ADMIN_SECTIONS: tuple[Section, ...] = (access.SECTION,)  # they manage accounts: only with authentication


def routes(services: Services) -> list[Route]:
    sections = SECTIONS + (ADMIN_SECTIONS if services.authority is not None else ())
    console = Console(services, [section.nav for section in sections if section.nav is not None])

    @console.page
    async def start(request: Request, viewer: Viewer) -> Response:
        return RedirectResponse("/ui/repositories", status_code=303)

    @services.guard.requires(Need.PUBLIC)
    async def static(request: Request) -> Response:
        return console.assets.response(request)  # the same for everyone: no viewer to identify

    @console.page
    async def unknown(request: Request, viewer: Viewer) -> Response:
        raise NotFound("There is no such page in the console.")

    found = [
        Route("/ui", start, methods=["GET"]),
        Route("/ui/", start, methods=["GET"]),
        Route("/ui/static/{file}", static, methods=["GET"]),
    ]
    for section in sections:
        found += section.routes(console)
    return [*found, Route("/ui/{rest:path}", unknown, methods=["GET", "POST"])]  # last: an HTML 404
