"""AWS JSON 1.1 on `POST /`: the service and operation come from X-Amz-Target, the members from
the JSON body, checked against the service's botocore model; the answer is JSON, or an error in
AWS's shape. One dispatcher for every operation of every service (ECR, ECS, CloudWatch Logs)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..api.common import read_body
from ..auth.gate import Need
from ..middleware import annotate, note_caller
from ..services import Services
from . import model, shapes
from .call import Call, Handler
from .errors import JSON_11, AwsError, Common, error_response
from .signing import Principal, authenticate


@dataclass(frozen=True, slots=True)
class Api:
    """One AWS service: its model, its operations and how it decides and reports."""

    model: str  # botocore's name for it, also the service of its SigV4 credential scope: ecr, ecs, logs
    target_prefix: str  # the X-Amz-Target prefix (the model's targetPrefix)
    handlers: dict[str, Handler]
    authorize: Callable[[Principal, str, dict[str, Any]], None]  # (caller, operation, members)
    translate: Callable[[Exception], AwsError]  # any exception -> the error to answer
    max_body: int = 1 << 20


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw.strip() else {}
    except (ValueError, UnicodeDecodeError):
        raise AwsError(Common.SERIALIZATION, "the request body is not valid JSON") from None


def _serialize(result: dict[str, Any]) -> bytes:
    return json.dumps(result, separators=(",", ":")).encode()


def _unknown(exc: Exception) -> AwsError:
    assert isinstance(exc, AwsError)
    return exc


def routes(services: Services, apis: list[Api]) -> list[Route]:
    by_prefix = {api.target_prefix: api for api in apis}

    # The /v2 guard leaves this route alone: every call is authenticated by its SigV4 signature.
    @services.guard.requires(Need.PUBLIC)
    async def dispatch(request: Request) -> Response:
        target = request.headers.get("x-amz-target", "")
        prefix, _, name = target.partition(".")
        api = by_prefix.get(prefix)
        translate = api.translate if api is not None else _unknown
        try:
            operation = model.operation(api.model, name) if api is not None and name else None
            if api is None or operation is None or name not in api.handlers:
                raise AwsError(Common.UNKNOWN_OPERATION, f"operation {target[:200]!r} is not supported")
            annotate(request.scope, operation=f"{api.model}:{name}")
            raw = await read_body(request, api.max_body, partial(AwsError, Common.SERIALIZATION))
            principal = await authenticate(request, raw, services.authority, services.threads, api.model)
            note_caller(request.scope, *principal.caller)
            params = shapes.validate(operation, _json(raw))
            api.authorize(principal, name, params)
            result = await api.handlers[name](Call(request, principal, params))
        except Exception as exc:
            return error_response(translate(exc))
        return Response(_serialize(result), media_type=JSON_11, headers={"x-amzn-RequestId": str(uuid.uuid4())})

    return [Route("/", dispatch, methods=["POST"])]
