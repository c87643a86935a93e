"""The ECR service model shipped with botocore: operations, shapes, enums and limits exactly as
the clients that talk to us know them."""

from __future__ import annotations

import functools

import botocore.session
from botocore.model import OperationModel, ServiceModel


@functools.lru_cache(maxsize=1)
def service() -> ServiceModel:
    return botocore.session.get_session().get_service_model("ecr")


def target_prefix() -> str:
    return str(service().metadata["targetPrefix"])


def operation(name: str) -> OperationModel | None:
    model = service()
    return model.operation_model(name) if name in model.operation_names else None
