"""The ECS API (`AmazonEC2ContainerServiceV20141113.*`) on the shared AWS JSON dispatcher."""

from __future__ import annotations

from typing import Any

from ..aws.call import Handler
from ..aws.protocol import Api
from ..aws.signing import Principal
from ..services import Services
from . import access, clusters, services, taskdefs, tasks
from .context import Context
from .errors import as_aws_error

NAME = "ecs"
TARGET_PREFIX = "AmazonEC2ContainerServiceV20141113"


def api(services_: Services) -> Api:
    context = Context(services_.deployer, services_.threads)
    handlers: dict[str, Handler] = {}
    for module in (clusters, taskdefs, services, tasks):
        handlers |= module.operations(context)

    def authorize(principal: Principal, operation: str, params: dict[str, Any]) -> None:
        access.authorize(principal, operation, params)

    return Api(NAME, TARGET_PREFIX, handlers, authorize, as_aws_error)
