"""The ECR API (`AmazonEC2ContainerRegistry_V20150921.*`) on the shared AWS JSON dispatcher."""

from __future__ import annotations

from typing import Any

from storage.errors import NameUnknown

from ..aws.call import Handler
from ..aws.errors import AwsError
from ..aws.protocol import Api
from ..aws.signing import Principal
from ..services import Services
from . import access, images, layers, lifecycle, model, registry_ops, repositories
from .context import Context
from .errors import as_aws_error

MAX_BODY = 32 << 20  # UploadLayerPart carries up to 20 MiB, base64-encoded


def api(services: Services) -> Api:
    context = Context(services)
    handlers: dict[str, Handler] = {}
    for module in (repositories, registry_ops, images, layers, lifecycle):
        handlers |= module.operations(context)

    def authorize(principal: Principal, operation: str, params: dict[str, Any]) -> None:
        access.authorize(principal, context.target(params, principal), f"ecr:{operation}")

    def translate(exc: Exception) -> AwsError:
        if isinstance(exc, NameUnknown):
            return context.not_found(exc.detail["name"])
        return as_aws_error(exc)

    return Api(model.NAME, model.TARGET_PREFIX, handlers, authorize, translate, MAX_BODY)
