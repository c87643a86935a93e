"""The ECR service model shipped with botocore."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..aws import model

if TYPE_CHECKING:
    from botocore.model import ServiceModel

NAME = "ecr"
# The model's targetPrefix (a test checks they agree): known without loading the model, which
# only the first ECR call does, so that a registry nobody calls through ECR never imports botocore.
TARGET_PREFIX = "AmazonEC2ContainerRegistry_V20150921"


def service() -> ServiceModel:
    return model.service(NAME)
