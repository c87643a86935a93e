"""Database engines and transactions.

SQLite runs in WAL mode so that readers never wait for the writer; write transactions begin
with ``BEGIN IMMEDIATE`` so that two writers queue on the lock instead of failing when one
upgrades a read lock. Synchronous=FULL: an acknowledged push survives a power cut.

PostgreSQL (several replicas) runs READ COMMITTED; writers that must not interleave take row
locks (``SELECT ... FOR UPDATE``, see repositories.ensure/find with lock=True), never locks held
in a process. Pooled connections are pinged before use, so a database restart costs the
requests in flight (answered 503, as StorageUnavailable) and nothing after it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import InterfaceError, OperationalError

from ..drivers.base import StorageUnavailable

_WRITE = "cais_write"


def _sqlite_setup(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA busy_timeout=60000")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def on_begin(conn: Connection) -> None:
        mode = "IMMEDIATE" if conn.get_execution_options().get(_WRITE) else "DEFERRED"
        conn.exec_driver_sql(f"BEGIN {mode}")


def make_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            os.makedirs(os.path.dirname(os.path.abspath(parsed.database)), exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False}, pool_size=8, max_overflow=16)
        _sqlite_setup(engine)
        return engine
    if parsed.drivername in ("postgresql", "postgres"):
        url = str(parsed.set(drivername="postgresql+psycopg"))
    return create_engine(url, pool_pre_ping=True, pool_size=8, max_overflow=16)


class Database:
    """The engine plus the two kinds of transaction the store uses."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.is_sqlite = self.engine.dialect.name == "sqlite"

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self._transaction(write=False) as conn:
            yield conn

    @contextmanager
    def write(self) -> Iterator[Connection]:
        with self._transaction(write=True) as conn:
            yield conn

    @contextmanager
    def _transaction(self, write: bool) -> Iterator[Connection]:
        try:
            with self.engine.connect().execution_options(**{_WRITE: write}) as conn, conn.begin():
                yield conn
        except (OperationalError, InterfaceError) as exc:
            # Unreachable or restarted database, lost connection, deadlock victim, busy SQLite:
            # the transaction was rolled back and a retry may well succeed.
            raise StorageUnavailable(f"metadata database unavailable: {exc.orig!r}"[:500]) from exc

    def dispose(self) -> None:
        self.engine.dispose()
