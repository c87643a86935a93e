"""AWS JSON 1.1 on `POST /`: the operation comes from X-Amz-Target, the members from the JSON
body; the answer is JSON, or an error in AWS's shape. One dispatcher for every operation."""

from __future__ import annotations

import json
import uuid
from functools import partial
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from storage.errors import NameUnknown

from ..api.common import read_body
from ..auth.gate import Need
from ..middleware import annotate, note_caller
from ..services import Services
from . import access, images, layers, lifecycle, model, registry_ops, repositories, shapes
from .context import Call, Context, Handler
from .errors import JSON_11, AwsError, Fault, error_response

MAX_BODY = 32 << 20  # UploadLayerPart carries up to 20 MiB, base64-encoded


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw.strip() else {}
    except (ValueError, UnicodeDecodeError):
        raise AwsError(Fault.SERIALIZATION, "the request body is not valid JSON") from None


def _serialize(result: dict[str, Any]) -> bytes:
    return json.dumps(result, separators=(",", ":")).encode()


def routes(services: Services) -> list[Route]:
    context = Context(services)
    handlers: dict[str, Handler] = {}
    for module in (repositories, registry_ops, images, layers, lifecycle):
        handlers |= module.operations(context)
    prefix = model.TARGET_PREFIX

    # The /v2 guard leaves this route alone: every call is authenticated by its SigV4 signature (access.py).
    @services.guard.requires(Need.PUBLIC)
    async def dispatch(request: Request) -> Response:
        try:
            target = request.headers.get("x-amz-target", "")
            name = target.removeprefix(f"{prefix}.") if target.startswith(f"{prefix}.") else ""
            operation = model.operation(name) if name else None
            handler = handlers.get(name)
            if operation is None or handler is None:
                raise AwsError(Fault.UNKNOWN_OPERATION, f"operation {target[:200]!r} is not supported")
            annotate(request.scope, operation=f"ecr:{name}")
            raw = await read_body(request, MAX_BODY, partial(AwsError, Fault.SERIALIZATION))
            principal = await access.authenticate(request, raw, services.authority, services.threads)
            note_caller(request.scope, *principal.caller)
            params = shapes.validate(operation, _json(raw))
            access.authorize(principal, context.target(params, principal), f"ecr:{name}")
            result = await handler(Call(request, principal, params))
        except NameUnknown as exc:
            return error_response(context.not_found(exc.detail["name"]))
        except Exception as exc:
            return error_response(exc)
        return Response(_serialize(result), media_type=JSON_11, headers={"x-amzn-RequestId": str(uuid.uuid4())})

    return [Route("/", dispatch, methods=["POST"])]
