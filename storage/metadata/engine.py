"""Database engines and transactions.

SQLite runs in WAL mode so that readers never wait for the writer; write transactions begin
with ``BEGIN IMMEDIATE`` so that two writers queue on the lock instead of failing when one
upgrades a read lock.

Durability by group commit: transactions commit with synchronous=NORMAL (the WAL is written,
not synced), and a durable one then waits, after giving the write lock to the next writer, for
an fsync of the WAL that started after its commit. The WAL is written in order, so one fsync
makes every transaction committed before it durable: the waiters of a process share one, the
fsync of one writer overlaps the work of the next, and an acknowledged push still survives a
power cut. Other transactions may see a durable one's rows a moment before the fsync: anything
they commit comes later in the WAL, so a power cut never keeps their work and loses its basis.
Writes that only record progress a client can redo (upload sessions, leases, checkpoints) do not
wait: the next durable commit makes them durable too, and a power cut merely takes an upload
back to an earlier checkpoint.

SQLite's own wait for the write lock polls with growing sleeps (up to 100 ms), so under many
concurrent pushes writers sleep while the lock is free. Writers therefore queue first on a
lock that wakes the next one at once: a thread lock within the process, then ``flock`` on a
file beside the database across worker processes.

PostgreSQL (several replicas) runs READ COMMITTED; writers that must not interleave take row
locks (``SELECT ... FOR UPDATE``, see repositories.find with lock=True), never locks held
in a process. Pooled connections are pinged before use, so a database restart costs the
requests in flight (answered 503, as StorageUnavailable) and nothing after it.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.pool import QueuePool

from ..drivers.base import StorageUnavailable
from ..threads import LIMIT
from .combining import Combiner, Job

_WRITE = "cais_write"
T = TypeVar("T")


def _sqlite_setup(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")  # durable commits sync the WAL themselves: _WalSync
        cur.execute("PRAGMA busy_timeout=60000")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def on_begin(conn: Connection) -> None:
        # Straight to the driver: a statement through SQLAlchemy costs more than the read it opens.
        driver: Any = conn.connection.driver_connection
        driver.execute("BEGIN IMMEDIATE" if conn.get_execution_options().get(_WRITE) else "BEGIN DEFERRED")


def make_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            os.makedirs(os.path.dirname(os.path.abspath(parsed.database)), exist_ok=True)
        # Writers hold a connection while they queue for the write lock: enough for every worker
        # thread (threads.LIMIT) and the event loop, so that none waits for the pool instead.
        engine = create_engine(url, connect_args={"check_same_thread": False}, pool_size=8, max_overflow=LIMIT)
        _sqlite_setup(engine)
        return engine
    if parsed.drivername in ("postgresql", "postgres"):
        url = str(parsed.set(drivername="postgresql+psycopg"))
    return create_engine(url, pool_pre_ping=True, pool_size=8, max_overflow=16)


# Unreachable or restarted database, lost connection, deadlock victim, busy SQLite: the
# transaction was rolled back and a retry may well succeed.
# The batches' savepoint statements go straight to the SQLite driver, whose errors (a full
# disk, an I/O error that ended the transaction) SQLAlchemy never sees to wrap.
_LOST = (OperationalError, InterfaceError, sqlite3.OperationalError)


def _unavailable(exc: Exception) -> StorageUnavailable:
    error = StorageUnavailable(f"metadata database unavailable: {getattr(exc, 'orig', exc)!r}"[:500])
    error.__cause__ = exc
    return error


class _WriterQueue:
    """One writer at a time across threads and processes, woken in turn without polling."""

    def __init__(self, database_path: str) -> None:
        self._thread_lock = threading.Lock()
        self._fd = os.open(database_path + ".writer", os.O_RDWR | os.O_CREAT, 0o600)

    @contextmanager
    def turn(self) -> Iterator[None]:
        with self._thread_lock:
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        os.close(self._fd)


class _WalSync:
    """The fsyncs of group commit (see above). Commits are numbered as they complete; an fsync
    that starts once commit n is counted covers it, so a waiter whose commit an fsync in flight
    did not cover waits for it to end, then runs one fsync for every commit counted so far."""

    def __init__(self, database_path: str) -> None:
        self._path = database_path + "-wal"
        self._counting = threading.Lock()
        self._syncing = threading.Lock()
        self._committed = 0
        self._synced = 0

    def committed(self) -> int:
        """Count a commit whose WAL frames are written; returns its number."""
        with self._counting:
            self._committed += 1
            return self._committed

    def wait(self, commit: int) -> None:
        """Return once commit number `commit` is on disk."""
        with self._syncing:
            if self._synced >= commit:
                return
            covered = self._committed
            self._fsync()
            self._synced = covered

    def _fsync(self) -> None:
        try:
            fd = os.open(self._path, os.O_RDONLY)
        except FileNotFoundError:
            return  # the last connection closed: it checkpointed the WAL into the database, synced
        try:
            os.fsync(fd)
        except OSError as exc:
            raise StorageUnavailable(f"metadata database: fsync of the WAL failed: {exc!r}") from exc
        finally:
            os.close(fd)


class Database:
    """The engine plus the two kinds of transaction the store uses."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        path = self.engine.url.database if self.is_sqlite else None
        on_disk = os.path.abspath(path) if path and path != ":memory:" else None
        self._writers = _WriterQueue(on_disk) if on_disk else None
        self._wal = _WalSync(on_disk) if on_disk else None
        self._combiner = Combiner(self._run_batch) if on_disk else None

    @property
    def reads_inline(self) -> bool:
        """Reads cost less than a hop to a worker thread and never wait for writers (SQLite in WAL
        mode): callers may run them on the event loop."""
        return self.is_sqlite

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self._transaction(write=False) as conn:
            yield conn

    @contextmanager
    def write(self, durable: bool = True) -> Iterator[Connection]:
        """A write transaction; durable=False for progress a client can redo (see above)."""
        if self._writers is None or self._wal is None:
            with self._transaction(write=True) as conn:
                yield conn
            return
        # The connection is taken from the pool and given back outside the write lock: only
        # the transaction itself holds up the other writers.
        with self._connection(write=True) as conn, self._writers.turn():
            with conn.begin():
                yield conn
            commit = self._wal.committed()
        if durable:
            self._wal.wait(commit)

    def write_shared(self, work: Callable[[Connection], T], durable: bool = True) -> T:
        """`work(conn)` in a write transaction, as `write` runs its block; with SQLite, the work
        that other threads hand in meanwhile shares the transaction, each in its own savepoint
        (an exception undoes only its own work): one turn of the write lock and one commit for
        all of them. `work` may run in another thread and must not hold locks others need."""
        if self._combiner is None or self._wal is None:
            with self.write(durable) as conn:
                return work(conn)
        job = self._combiner.run(work)
        if durable and job.error is None:
            self._wal.wait(job.commit)
        return job.outcome()

    def _run_batch(self, jobs: list[Job[Any]]) -> None:
        assert self._writers is not None and self._wal is not None
        with self._connection(write=True) as conn, self._writers.turn():
            driver: Any = conn.connection.driver_connection
            with conn.begin():
                for job in jobs:
                    driver.execute("SAVEPOINT job")
                    try:
                        job.run(conn)
                    except Exception as exc:
                        driver.execute("ROLLBACK TO job")
                        job.error = _unavailable(exc) if isinstance(exc, _LOST) else exc
                    driver.execute("RELEASE job")
            commit = self._wal.committed()
        for job in jobs:
            job.commit = commit

    @contextmanager
    def _transaction(self, write: bool) -> Iterator[Connection]:
        with self._connection(write) as conn, conn.begin():
            yield conn

    @contextmanager
    def _connection(self, write: bool) -> Iterator[Connection]:
        try:
            with self.engine.connect().execution_options(**{_WRITE: write}) as conn:
                yield conn
        except _LOST as exc:
            raise _unavailable(exc) from exc

    def pool_use(self) -> tuple[int, int]:
        """Connections of this process checked out now, and the most its pool opens."""
        pool = self.engine.pool
        if not isinstance(pool, QueuePool):  # an in-memory database of a unit test
            return 0, 0
        return pool.checkedout(), pool.size() + pool._max_overflow  # no public accessor for the overflow limit

    def dispose(self) -> None:
        self.engine.dispose()
        if self._writers is not None:
            self._writers.close()
