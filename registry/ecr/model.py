"""The ECR service model shipped with botocore: operations, shapes, enums and limits exactly as
the clients that talk to us know them."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from botocore.model import OperationModel, ServiceModel

# The model's targetPrefix (a test checks they agree): known without loading the model, which
# only the first ECR call does, so that a registry nobody calls through ECR never imports botocore.
TARGET_PREFIX = "AmazonEC2ContainerRegistry_V20150921"


@functools.lru_cache(maxsize=1)
def service() -> ServiceModel:
    import botocore.session

    return botocore.session.get_session().get_service_model("ecr")


def operation(name: str) -> OperationModel | None:
    model = service()
    return model.operation_model(name) if name in model.operation_names else None
