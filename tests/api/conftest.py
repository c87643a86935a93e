from __future__ import annotations

from collections.abc import Iterator

import pytest

from conformance.client import Registry
from tests.support.auth import AuthRegistry, running_auth_registry


@pytest.fixture
def reg(registry_url: str) -> Registry:
    return Registry(registry_url)


@pytest.fixture(scope="module")
def auth_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthRegistry]:
    with running_auth_registry(tmp_path_factory.mktemp("auth")) as registry:
        yield registry
