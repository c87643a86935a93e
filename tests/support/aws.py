"""Stock boto3 clients pointed at a Cais (any region; keys are ignored without authentication)."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config


def aws_client(
    service: str, url: str, validate: bool = True, key_id: str = "x", secret: str = "y", region: str = "us-east-1"
) -> Any:
    make: Any = boto3.client  # its stubs know only literal service names
    return make(
        service,
        endpoint_url=url,
        region_name=region,
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
        config=Config(parameter_validation=validate, retries={"max_attempts": 1}),
    )
