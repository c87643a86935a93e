"""The backends a `cais serve` under test can run on."""

from __future__ import annotations

import pytest

from .postgres import PostgresServer
from .seaweed import SeaweedFS

BACKENDS = ["local", "s3pg"]


def backend_env(backend: str, request: pytest.FixtureRequest) -> dict[str, str]:
    """CAIS_* variables for a `cais serve` on a backend: local (filesystem + SQLite, the
    defaults) or s3pg (SeaweedFS + PostgreSQL, what replicas share), fresh for each call."""
    if backend == "local":
        return {}
    seaweed: SeaweedFS = request.getfixturevalue("seaweed")
    postgres: PostgresServer = request.getfixturevalue("postgres")
    return {**seaweed.server_env(), "CAIS_METADATA__URL": postgres.new_database()}
