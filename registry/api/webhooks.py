"""The webhook API, `/api/v1/webhooks`: what `cais webhook ...` does, as authenticated JSON over
HTTP for the web console and scripts. Every route needs the admin action on every repository
(a rule for `*`), or no authentication configured (loopback only).

    GET    /api/v1/webhooks                      list, with each one's backlog
    POST   /api/v1/webhooks                      add: {"name", "url", "format", "events", "repositories",
                                                 "tags", "timeout", "binary", "version", "githubSignature",
                                                 "secret"}; 201 with the secret (shown once)
    GET    /api/v1/webhooks/{name}               show
    PATCH  /api/v1/webhooks/{name}               change fields; {"rotateSecret": true, "keepOld": seconds}
    DELETE /api/v1/webhooks/{name}               remove
    POST   /api/v1/webhooks/{name}/enable|disable
    POST   /api/v1/webhooks/{name}/test          send a webhook.ping now: {"delivered", "status", "error"}
    GET    /api/v1/webhooks/{name}/deliveries    ?failed=true&limit=N
    POST   /api/v1/webhooks/{name}/redeliver     {"eventId": ...} or {"since": unix seconds}
    GET    /api/v1/event-kinds                   the kinds of events

Errors have the OCI shape (`{"errors": [{"code", "message"}]}`), the table below giving the status.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hooks.webhooks import Spec, describe, describe_delivery
from storage import errors as store
from storage import event_kinds

from ..auth.gate import Need
from ..services import Services
from . import json_api
from .json_api import Statuses

# The store's errors about webhooks, as HTTP statuses (other errors go through the OCI table).
STATUSES: Statuses = {
    store.SubscriptionUnknown: (404, "NOT_FOUND"),
    store.EventUnknown: (404, "NOT_FOUND"),
    store.SubscriptionExists: (409, "CONFLICT"),
    store.SubscriptionInvalid: (400, "INVALID"),
}
FIELDS = {
    "url": "url",
    "format": "format",
    "repositories": "repositories",
    "tags": "tags",
    "events": "events",
    "timeout": "timeout",
    "binary": "binary",
    "version": "version",
    "githubSignature": "github_signature",
}
answering = json_api.answering(STATUSES)


async def _json(request: Request) -> dict[str, Any]:
    return await json_api.json_object(request, store.SubscriptionInvalid)


def _changes(body: dict[str, Any]) -> dict[str, Any]:
    unknown = set(body) - set(FIELDS) - {"name", "secret", "rotateSecret", "keepOld"}
    if unknown:
        raise store.SubscriptionInvalid(f"unknown field(s): {', '.join(sorted(unknown))}")
    return {FIELDS[key]: value for key, value in body.items() if key in FIELDS}


def routes(services: Services) -> list[Route]:
    hooks = services.webhooks
    admin = services.guard.requires(Need.ADMIN)

    @admin
    @answering
    async def list_webhooks(request: Request) -> Response:
        _, _, found = await services.threads.run(hooks.backlog)
        return JSONResponse({"webhooks": [describe(row, backlog) for row, backlog in found]})

    @admin
    @answering
    async def add_webhook(request: Request) -> Response:
        body = await _json(request)
        try:
            spec = Spec(**_changes(body))
        except TypeError as exc:
            raise store.SubscriptionInvalid(str(exc)) from None
        row, secret = await services.threads.run(hooks.add, str(body.get("name", "")), spec, body.get("secret"))
        return JSONResponse({**describe(row), "secret": secret}, status_code=201)

    @admin
    @answering
    async def show_webhook(request: Request) -> Response:
        return JSONResponse(await services.threads.run(hooks.show, request.path_params["name"]))

    @admin
    @answering
    async def change_webhook(request: Request) -> Response:
        body = await _json(request)
        name = request.path_params["name"]
        keep = float(body.get("keepOld", 86400.0))
        rotate = bool(body.get("rotateSecret") or body.get("secret"))
        row, secret = await services.threads.run(hooks.update, name, _changes(body), rotate, body.get("secret"), keep)
        return JSONResponse({**describe(row), **({"secret": secret} if secret else {})})

    @admin
    @answering
    async def remove_webhook(request: Request) -> Response:
        await services.threads.run(hooks.remove, request.path_params["name"])
        return Response(status_code=204)

    @admin
    @answering
    async def enable_webhook(request: Request) -> Response:
        return JSONResponse(describe(await services.threads.run(hooks.set_enabled, request.path_params["name"], True)))

    @admin
    @answering
    async def disable_webhook(request: Request) -> Response:
        return JSONResponse(describe(await services.threads.run(hooks.set_enabled, request.path_params["name"], False)))

    @admin
    @answering
    async def test_webhook(request: Request) -> Response:
        outcome = await hooks.test(request.path_params["name"])
        return JSONResponse({"delivered": outcome.delivered, "status": outcome.status, "error": outcome.error})

    @admin
    @answering
    async def list_deliveries(request: Request) -> Response:
        failed = request.query_params.get("failed", "") in ("1", "true", "yes")
        limit = min(int(request.query_params.get("limit", "100") or 100), 1000)
        found = await services.threads.run(hooks.deliveries, request.path_params["name"], failed, limit)
        return JSONResponse({"deliveries": [describe_delivery(item) for item in found]})

    @admin
    @answering
    async def redeliver(request: Request) -> Response:
        body = await _json(request)
        event_id, since = body.get("eventId"), body.get("since")
        if (event_id is None) == (since is None):
            return json_api.failure("give eventId or since")
        count = await services.threads.run(hooks.redeliver, request.path_params["name"], event_id, since)
        return JSONResponse({"queued": count})

    @admin
    @answering
    async def list_kinds(request: Request) -> Response:
        kinds = sorted(event_kinds.registered().values(), key=lambda kind: kind.name)
        found = [{"name": k.name, "version": k.version, "optIn": k.opt_in, "summary": k.summary} for k in kinds]
        return JSONResponse({"kinds": found})

    base = "/api/v1/webhooks"
    return [
        Route(base, list_webhooks, methods=["GET"]),
        Route(base, add_webhook, methods=["POST"]),
        Route(base + "/{name}", show_webhook, methods=["GET"]),
        Route(base + "/{name}", change_webhook, methods=["PATCH"]),
        Route(base + "/{name}", remove_webhook, methods=["DELETE"]),
        Route(base + "/{name}/enable", enable_webhook, methods=["POST"]),
        Route(base + "/{name}/disable", disable_webhook, methods=["POST"]),
        Route(base + "/{name}/test", test_webhook, methods=["POST"]),
        Route(base + "/{name}/deliveries", list_deliveries, methods=["GET"]),
        Route(base + "/{name}/redeliver", redeliver, methods=["POST"]),
        Route("/api/v1/event-kinds", list_kinds, methods=["GET"]),
    ]
