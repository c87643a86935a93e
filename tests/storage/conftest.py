from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from storage.drivers.base import Driver
from storage.drivers.filesystem import FilesystemDriver
from storage.drivers.memory import MemoryDriver
from storage.metadata import migrate
from storage.metadata.engine import Database

DRIVERS = ["filesystem", "memory"]


def make_driver(kind: str, tmp_path: Path) -> Driver:
    if kind == "filesystem":
        return FilesystemDriver(str(tmp_path / "blobs"))
    return MemoryDriver()


@pytest.fixture(params=DRIVERS)
def driver(request: pytest.FixtureRequest, tmp_path: Path) -> Driver:
    return make_driver(request.param, tmp_path)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'meta.db'}")
    migrate.upgrade(database)
    yield database
    database.dispose()
