"""The SQLite engine: which writes wait for the disk, and queries that stay O(page)."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, Select

from storage.drivers.base import StorageUnavailable
from storage.metadata import migrate, repositories, tags
from storage.metadata.engine import Database


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    """SQLite only: these are properties of the SQLite engine."""
    database = Database(f"sqlite:///{tmp_path / 'meta.db'}")
    migrate.upgrade(database)
    yield database
    database.dispose()


class _Fsyncs:
    """Counts fsyncs of the WAL; they can be held until released, like a slow disk."""

    def __init__(self, wal: str) -> None:
        self.wal = wal
        self.count = 0
        self.entered = threading.Event()
        self.release = threading.Event()
        self.release.set()
        self._real = os.fsync

    def fsync(self, fd: int) -> None:
        if os.readlink(f"/proc/self/fd/{fd}") == self.wal:
            self.count += 1
            self.entered.set()
            assert self.release.wait(60)
        self._real(fd)


@pytest.fixture
def fsyncs(db: Database, monkeypatch: pytest.MonkeyPatch) -> _Fsyncs:
    counter = _Fsyncs(str(db.engine.url.database) + "-wal")
    monkeypatch.setattr(os, "fsync", counter.fsync)
    return counter


def _write(db: Database, name: str, durable: bool = True) -> None:
    with db.write(durable=durable) as conn:
        repositories.for_push(conn, name, create_on_push=True)


def _write_then_note(db: Database, name: str, done: list[str]) -> None:
    _write(db, name)
    done.append(name)


def _exists(db: Database, name: str) -> bool:
    with db.read() as conn:
        return repositories.find(conn, name) is not None


def test_durable_writes_fsync_the_wal_and_progress_writes_do_not(db: Database, fsyncs: _Fsyncs) -> None:
    with db.write() as conn:
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar_one() == 1  # NORMAL: no fsync in the commit
    assert fsyncs.count == 1
    _write(db, "progress", durable=False)
    assert fsyncs.count == 1
    _write(db, "durable")
    assert fsyncs.count == 2
    with pytest.raises(RuntimeError), db.write() as conn:  # rolled back: nothing to wait for
        repositories.for_push(conn, "rolled-back", create_on_push=True)
        raise RuntimeError
    assert fsyncs.count == 2


def test_durable_writers_share_an_fsync_that_runs_outside_the_write_lock(db: Database, fsyncs: _Fsyncs) -> None:
    """While the first writer's fsync hangs, three more writers commit (the write lock is free)
    and queue for the disk; one fsync then covers all three."""
    fsyncs.release.clear()
    threads = [threading.Thread(target=_write, args=(db, "first"))]
    done: list[str] = []
    try:
        threads[0].start()
        assert fsyncs.entered.wait(60)
        for name in ("a", "b", "c"):
            _write(db, f"queued/{name}", durable=False)  # the write lock is free while the fsync runs
            thread = threading.Thread(target=_write_then_note, args=(db, name, done))
            threads.append(thread)
            thread.start()
        while not all(_exists(db, name) for name in ("a", "b", "c")):  # committed; then waiting for the disk
            time.sleep(0.01)
        assert not done
    finally:
        fsyncs.release.set()
        for thread in threads:
            thread.join(60)
    assert sorted(done) == ["a", "b", "c"]
    assert fsyncs.count == 2


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


def test_shared_writes_undo_only_the_work_that_failed(db: Database, fsyncs: _Fsyncs) -> None:
    """Work handed in while a write runs shares the next transaction, each in a savepoint: the
    work that raises is undone, the rest commits, with one fsync for the durable ones."""
    started, release = threading.Event(), threading.Event()
    outcomes: dict[str, object] = {}

    def blocking(conn: Connection) -> None:
        repositories.for_push(conn, "first", create_on_push=True)
        started.set()
        assert release.wait(60)

    def create_then(name: str, fail: bool) -> None:
        def work(conn: Connection) -> str:
            repositories.for_push(conn, name, create_on_push=True)
            if fail:
                raise RuntimeError(name)
            return name

        try:
            outcomes[name] = db.write_shared(work)
        except RuntimeError as exc:
            outcomes[name] = exc

    threads = [threading.Thread(target=db.write_shared, args=(blocking,))]
    threads += [threading.Thread(target=create_then, args=(name, name == "b")) for name in ("a", "b", "c")]
    try:
        threads[0].start()
        assert started.wait(60)
        for thread in threads[1:]:
            thread.start()
        assert db._combiner is not None
        while len(db._combiner._waiting) < 3:  # handed in, waiting for the running batch
            time.sleep(0.01)
    finally:
        release.set()
        for thread in threads:
            thread.join(60)
    assert outcomes["a"] == "a" and outcomes["c"] == "c" and isinstance(outcomes["b"], RuntimeError)
    assert [_exists(db, name) for name in ("first", "a", "b", "c")] == [True, True, False, True]
    assert fsyncs.count == 2  # the first transaction, then a, b and c together


def test_a_shared_transaction_that_breaks_fails_as_unavailable(db: Database) -> None:
    """Errors of the savepoint statements, which go straight to the SQLite driver, are a 503
    (retry), not an unexplained 500; the database is usable afterwards."""

    def breaks(conn: Connection) -> None:
        driver: Any = conn.connection.driver_connection
        driver.execute("ROLLBACK")  # as SQLite does on a full disk

    with pytest.raises(StorageUnavailable):
        db.write_shared(breaks)
    db.write_shared(lambda conn: repositories.for_push(conn, "after", create_on_push=True))
    with db.read() as conn:
        assert repositories.find(conn, "after") is not None
