"""What the JSON management APIs under /api/v1 share: request bodies read as JSON objects, and
errors answered from each API's table of statuses (`{"errors": [{"code", "message"}]}`, the OCI
shape); errors a table does not name go to the app's handlers."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..errors import OCIError, Problem
from .common import read_body

MAX_BODY = 64 << 10
Endpoint = Callable[[Request], Awaitable[Response]]
Statuses = dict[type[Exception], tuple[int, str]]  # error class -> (HTTP status, code)


def failure(message: str, status: int = 400, code: str = "INVALID") -> JSONResponse:
    return JSONResponse({"errors": [{"code": code, "message": message}]}, status_code=status)


def answering(statuses: Statuses) -> Callable[[Endpoint], Endpoint]:
    """Errors of the classes in `statuses` (or their subclasses) become this API's answers."""

    def decorate(endpoint: Endpoint) -> Endpoint:
        async def answered(request: Request) -> Response:
            try:
                return await endpoint(request)
            except Exception as exc:
                for cls in type(exc).__mro__:
                    if cls in statuses:
                        status, code = statuses[cls]
                        return failure(getattr(exc, "message", str(exc)), status, code)
                raise

        answered.__name__ = endpoint.__name__
        return answered

    return decorate


async def json_object(request: Request, invalid: Callable[[str], Exception]) -> dict[str, Any]:
    """The body as a JSON object (`invalid(reason)` is raised otherwise; an empty body is {})."""
    raw = await read_body(request, MAX_BODY, lambda reason: OCIError(Problem.UNSUPPORTED, reason))
    try:
        body = json.loads(raw or b"{}")
    except ValueError:
        raise invalid("the body is not JSON") from None
    if not isinstance(body, dict):
        raise invalid("the body must be a JSON object")
    return body
