"""The SQLite engine: which writes wait for the disk, and queries that stay O(page)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Select

from storage.metadata import migrate, repositories, tags
from storage.metadata.engine import Database


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    """SQLite only: these are properties of the SQLite engine."""
    database = Database(f"sqlite:///{tmp_path / 'meta.db'}")
    migrate.upgrade(database)
    yield database
    database.dispose()


def _synchronous(db: Database, durable: bool) -> int:
    with db.write(durable=durable) as conn:
        return int(conn.exec_driver_sql("PRAGMA synchronous").scalar_one())


def test_only_durable_writes_wait_for_fsync(db: Database) -> None:
    assert _synchronous(db, durable=True) == 2  # FULL
    assert _synchronous(db, durable=False) == 1  # NORMAL
    assert _synchronous(db, durable=True) == 2


def test_writers_from_several_engines_queue_without_errors(db: Database) -> None:
    other = Database(db.url)
    failures: list[BaseException] = []

    def insert(database: Database, prefix: str) -> None:
        try:
            for i in range(50):
                with database.write(durable=i % 2 == 0) as conn:
                    repositories.for_push(conn, f"{prefix}/{i}", create_on_push=True)
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=insert, args=(d, f"t{n}")) for n, d in enumerate([db, other, db, other])]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    other.dispose()
    assert not failures
    with db.read() as conn:
        assert len(repositories.names(conn, "", 1000)) == 200


def _plan(db: Database, statement: Select[tuple[str]], params: dict[str, object]) -> str:
    compiled = statement.compile(db.engine)
    values = compiled.construct_params(params)
    positional = tuple(values[name] for name in compiled.positiontup or [])
    with db.read() as conn:
        rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}", positional)
        return " | ".join(row[-1] for row in rows)


def test_tag_and_catalog_pages_are_index_range_scans(db: Database) -> None:
    """O(page) whatever the repository's size: a range search on an index, in index order."""
    for statement, params in (
        (tags._PAGE, {"repository_id": 1, "after": "v1", "limit": 100}),
        (repositories._NAMES, {"after": "a", "limit": 100}),
    ):
        plan = _plan(db, statement, params)
        assert plan.startswith("SEARCH") and ("INDEX" in plan or "PRIMARY KEY" in plan), plan
        assert "TEMP B-TREE" not in plan and "SCAN" not in plan, plan
