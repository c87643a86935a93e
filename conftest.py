"""Fixtures shared by tests/ and conformance/: real registry processes."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.backends import BACKENDS, backend_env
from tests.support.postgres import PostgresServer
from tests.support.seaweed import SeaweedFS
from tests.support.server import ServerProcess, free_port


@pytest.fixture(scope="session")
def seaweed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedFS]:
    """A real S3-compatible server (SeaweedFS) for the session; tests use their own key prefixes."""
    server = SeaweedFS(tmp_path_factory.mktemp("seaweedfs")).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A throwaway PostgreSQL cluster for the session; tests create their own databases."""
    server = PostgresServer().start()
    try:
        yield server
    finally:
        server.destroy()


@pytest.fixture(scope="session", params=BACKENDS)
def registry_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One registry per backend for the session, so that the API and conformance suites run on
    each; CAIS_TEST_REGISTRY points the suites at an external one instead."""
    external = os.environ.get("CAIS_TEST_REGISTRY")
    if external:
        yield external.rstrip("/")
        return
    data_dir = tmp_path_factory.mktemp(f"registry-{request.param}") / "data"
    server = ServerProcess(data_dir, free_port(), env=backend_env(request.param, request)).start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Callable[..., ServerProcess]]:
    """Start dedicated registries (for restarts, kills, several workers); stopped at teardown."""
    started: list[ServerProcess] = []

    def start(
        data_dir: Path | None = None,
        port: int | None = None,
        args: list[str] | None = None,
        env: dict[str, str] | None = None,
        **options: Any,
    ) -> ServerProcess:
        server = ServerProcess(data_dir or tmp_path / "data", port or free_port(), args or [], env or {}, **options)
        started.append(server.start())
        return server

    yield start
    for server in started:
        server.stop()
