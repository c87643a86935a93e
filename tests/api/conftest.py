from __future__ import annotations

from collections.abc import Iterator

import pytest

from conformance.client import Registry
from tests.support.auth import AUTH_ENV, AuthRegistry
from tests.support.server import ServerProcess, free_port


@pytest.fixture
def reg(registry_url: str) -> Registry:
    return Registry(registry_url)


@pytest.fixture(scope="module")
def auth_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthRegistry]:
    """One registry with authentication per test module; tests use their own names. Failed
    logins are not limited here (tests that check the limit start their own registry)."""
    env = {**AUTH_ENV, "CAIS_AUTH__FAILURE_LIMIT": "100000"}
    server = ServerProcess(tmp_path_factory.mktemp("auth") / "data", free_port(), env=env).start()
    try:
        yield AuthRegistry(server)
    finally:
        server.stop()
