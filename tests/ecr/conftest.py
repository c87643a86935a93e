"""Stock boto3 ECR clients pointed at a real `cais serve`."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest

from conformance.client import Registry
from tests.support.aws import aws_client


def ecr_client(url: str, validate: bool = True, key_id: str = "x", secret: str = "y", region: str = "us-east-1") -> Any:
    return aws_client("ecr", url, validate, key_id, secret, region)


@pytest.fixture
def ecr(registry_url: str) -> Any:
    return ecr_client(registry_url)


@pytest.fixture
def raw_ecr(registry_url: str) -> Any:
    """A client that skips boto3's own parameter checks, to see what the server answers."""
    return ecr_client(registry_url, validate=False)


@pytest.fixture
def reg(registry_url: str) -> Registry:
    return Registry(registry_url)


@pytest.fixture
def repo_name() -> str:
    return f"ecr/{uuid.uuid4().hex[:12]}"


@pytest.fixture
def new_repo(ecr: Any) -> Callable[..., str]:
    def create(**settings: Any) -> str:
        name = f"ecr/{uuid.uuid4().hex[:12]}"
        ecr.create_repository(repositoryName=name, **settings)
        return name

    return create


def error_of(excinfo: pytest.ExceptionInfo[Any]) -> tuple[str, str]:
    error = excinfo.value.response["Error"]
    return error["Code"], error["Message"]
