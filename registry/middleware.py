"""The outermost layer: a request id, the API version header, access logs and metrics, and
who is acting (storage/actor.py) for the events the request writes."""

from __future__ import annotations

import logging
import time
import uuid
from urllib.parse import unquote

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from storage import actor

from . import metrics
from .logs import request_id

access_log = logging.getLogger("cais.access")
API_VERSION = (b"docker-distribution-api-version", b"registry/2.0")
_NOTES = "cais.access"  # the scope key of what handlers add to the access log line


def annotate(scope: Scope, **fields: str) -> None:
    """Add fields to the request's access log line. `operation` (an AWS API action such as
    ecr:PutImage) also names the route in the metrics: every AWS call arrives on one route."""
    scope.setdefault(_NOTES, {}).update(fields)


def note_caller(scope: Scope, kind: str, name: str) -> None:
    """Who made the request: a user, robot (by name) or anonymous, for the access log and as who
    acts for the events the request writes."""
    annotate(scope, caller_kind=kind, **({"caller": name} if name else {}))
    actor.identified(kind, name)


class RequestContext:
    def __init__(self, app: ASGIApp, log_access: bool = True) -> None:
        self.app = app
        self.log_access = log_access

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if b"%2f" in scope.get("raw_path", b"").lower():
            scope = {**scope, "path": _slashes_kept(scope["raw_path"])}
        rid = _incoming_id(scope) or uuid.uuid4().hex
        token = request_id.set(rid)
        started = time.perf_counter()
        state = {"status": 0, "in": 0, "out": 0}

        async def counting_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                state["in"] += len(message.get("body", b""))
            return message

        async def tagging_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                state["status"] = message["status"]
                headers = list(message.get("headers", []))
                headers += [API_VERSION, (b"x-request-id", rid.encode())]
                message = {**message, "headers": headers}
            elif message["type"] == "http.response.body":
                state["out"] += len(message.get("body", b""))
            await send(message)

        # Who acts: anonymous until the access check identifies the caller (auth/gate.py).
        caller = actor.Actor("anonymous", "", rid, (scope.get("client") or ("", 0))[0] or None)
        try:
            with actor.acting(caller):
                await self.app(scope, counting_receive, tagging_send)
        finally:
            self._record(scope, state, time.perf_counter() - started)
            request_id.reset(token)

    def _record(self, scope: Scope, state: dict[str, int], seconds: float) -> None:
        notes: dict[str, str] = scope.get(_NOTES, {})
        route = notes.get("operation") or str(getattr(scope.get("endpoint"), "__name__", "unmatched"))
        metrics.observe(route, scope["method"], state["status"], seconds, state["in"], state["out"])
        if self.log_access:
            access_log.info(
                "request",
                extra={
                    "method": scope["method"],
                    "path": scope["path"],
                    "route": route,
                    "status": state["status"],
                    "duration_ms": round(seconds * 1000, 3),
                    "bytes_in": state["in"],
                    "bytes_out": state["out"],
                    "client": (scope.get("client") or ("", 0))[0],
                    **notes,
                },
            )


def _slashes_kept(raw_path: bytes) -> str:
    """The path decoded with an encoded slash in its last segment staying `%2F`. Every route
    ends with an identifier (an upload id, a digest, a reference) or a fixed word, and decoded
    whole, `/v2/app/blobs/uploads/..%2F..%2Fetc` has more segments than any route: it would fall
    through to the catch-all. Kept, the route matches and the identifier is refused with its own
    error code. Repository names decode as before (`a%2Fb` is the name `a/b`)."""
    head, _, last = raw_path.decode("ascii").rpartition("/")
    return f"{unquote(head)}/{unquote(last).replace('/', '%2F')}"


def _incoming_id(scope: Scope) -> str | None:
    for key, value in scope.get("headers", []):
        if key == b"x-request-id":
            text: str = value.decode("latin-1")
            if 0 < len(text) <= 64 and text.replace("-", "").isalnum():
                return text
    return None
