from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from storage.drivers.base import Driver
from storage.drivers.filesystem import FilesystemDriver
from storage.drivers.memory import MemoryDriver
from storage.metadata import migrate
from storage.metadata.engine import Database

DRIVERS = ["filesystem", "memory", "s3"]
DATABASES = ["sqlite", "postgresql"]


def make_driver(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> Driver:
    if kind == "filesystem":
        return FilesystemDriver(str(tmp_path / "blobs"))
    if kind == "s3":
        return request.getfixturevalue("seaweed").driver()  # type: ignore[no-any-return]
    return MemoryDriver()


def database_url(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if kind == "postgresql":
        return request.getfixturevalue("postgres").new_database()  # type: ignore[no-any-return]
    return f"sqlite:///{tmp_path / 'meta.db'}"


@pytest.fixture(params=DRIVERS)
def driver(request: pytest.FixtureRequest, tmp_path: Path) -> Driver:
    return make_driver(request.param, tmp_path, request)


@pytest.fixture(params=DATABASES)
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    database = Database(database_url(request.param, tmp_path, request))
    migrate.upgrade(database)
    yield database
    database.dispose()
