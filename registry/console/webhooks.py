"""Webhooks, for administrators of the registry (as the webhook API): every subscription with
what waits for it, and per webhook its delivery log (state, attempts, last answer, how long
after the event it was delivered) with redelivery of one event or of everything since a time,
a test ping, and enable/disable. The delivery log is a live region while deliveries are pending.
Webhooks are made with `cais webhook add` or the API (their secret is shown there once)."""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .failures import BadInput
from .viewer import Viewer
from .web import Console, Endpoint, NavItem, Section, form_of

DELIVERIES = 100  # the latest deliveries shown
SINCE = {"1h": 3600.0, "24h": 86400.0, "7d": 7 * 86400.0}


def routes(console: Console) -> list[Route]:
    services = console.services
    hooks = services.webhooks
    live_seconds = int(services.settings.ui.live_interval)

    @console.page
    async def listing(request: Request, viewer: Viewer) -> Response:
        viewer.require_admin()
        total, waiting, found = await console.read(hooks.backlog)
        context = {"webhooks": found, "events": total, "waiting": waiting}
        return console.render(request, viewer, "webhooks.html", context)

    async def log(request: Request, viewer: Viewer, template: str) -> Response:
        viewer.require_admin()
        name, failed = request.path_params["webhook"], request.query_params.get("failed") == "1"
        webhook = await console.read(hooks.get, name)
        found = await console.read(hooks.deliveries, name, failed, DELIVERIES)
        context = {
            "webhook": webhook,
            "deliveries": found,
            "failed": failed,
            "pending": any(item.delivery.state == "pending" for item in found),
            "live_seconds": live_seconds,
            "since": SINCE,
        }
        return console.render(request, viewer, template, context)

    @console.page
    async def webhook(request: Request, viewer: Viewer) -> Response:
        return await log(request, viewer, "webhook.html")

    @console.page
    async def deliveries(request: Request, viewer: Viewer) -> Response:
        return await log(request, viewer, "_deliveries.html")

    def done(request: Request, name: str, notice: str) -> Response:
        return console.redirect(request, f"/ui/webhooks/{name}?notice={notice}")

    @console.page
    async def redeliver(request: Request, viewer: Viewer) -> Response:
        viewer.require_admin()
        name, form = request.path_params["webhook"], form_of(request)
        event_id, since = form.get("event") or None, SINCE.get(form.get("since", ""))
        if (event_id is None) == (since is None):
            raise BadInput("Choose one event, or a time since which every event goes again.")
        await console.run(hooks.redeliver, name, event_id, time.time() - since if since else None)
        return done(request, name, "redelivering")

    @console.page
    async def ping(request: Request, viewer: Viewer) -> Response:
        viewer.require_admin()
        name = request.path_params["webhook"]
        outcome = await hooks.test(name)
        return done(request, name, "ping-delivered" if outcome.delivered else "ping-failed")

    def switch(enabled: bool) -> Endpoint:
        @console.page
        async def change(request: Request, viewer: Viewer) -> Response:
            viewer.require_admin()
            name = request.path_params["webhook"]
            await console.run(hooks.set_enabled, name, enabled)
            return done(request, name, "enabled" if enabled else "disabled")

        return change

    base = "/ui/webhooks/{webhook}"
    return [
        Route("/ui/webhooks", listing, methods=["GET"]),
        Route(base, webhook, methods=["GET"]),
        Route(base + "/deliveries", deliveries, methods=["GET"]),
        Route(base + "/redeliver", redeliver, methods=["POST"]),
        Route(base + "/test", ping, methods=["POST"]),
        Route(base + "/enable", switch(True), methods=["POST"]),
        Route(base + "/disable", switch(False), methods=["POST"]),
    ]


SECTION = Section(routes, NavItem("Webhooks", "/ui/webhooks", shown=lambda viewer: viewer.admin))
