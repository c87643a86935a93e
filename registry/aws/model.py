"""The service models shipped with botocore: operations, shapes, enums and limits exactly as the
clients that talk to us know them. A model is loaded at the first call of its service, so that
a registry nobody calls through an AWS API never imports botocore."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from botocore.model import OperationModel, ServiceModel


@functools.lru_cache(maxsize=8)
def service(name: str) -> ServiceModel:
    import botocore.session

    return botocore.session.get_session().get_service_model(name)


def operation(service_name: str, name: str) -> OperationModel | None:
    model = service(service_name)
    return model.operation_model(name) if name in model.operation_names else None
