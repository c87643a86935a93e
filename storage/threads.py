"""Blocking calls (database, disk, S3, argon2) run off the event loop through one `Threads`.

A serving process owns one (the services object holds it): one pool of worker threads for every
kind of call, so one limit bounds them all and the SQLite connection pool is sized for it (a
thread never waits for a connection instead of working). `run` is typed with a ParamSpec, so
mypy checks every argument as if the call were direct.

A caller cancelled meanwhile still waits for its call to end before it sees the cancellation:
no blocking call outlives the request or job that made it, and cleanup after a cancellation
never runs beside it. Closing refuses new calls and waits for the running ones, so that what
they use (the database pool, open files) is released only after them.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ParamSpec, TypeVar

from .drivers.base import StorageUnavailable

log = logging.getLogger("cais.storage.threads")

P = ParamSpec("P")
T = TypeVar("T")

# As many as anyio's default: requests that block (a push queued for the write lock, an argon2
# login) must not starve the others, and an idle thread costs only its stack.
LIMIT = 40


class Threads:
    def __init__(self, limit: int = LIMIT) -> None:
        self.limit = limit
        self._pool = ThreadPoolExecutor(limit, thread_name_prefix="cais")
        self._running: set[asyncio.Future[Any]] = set()

    async def run(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """`fn(*args, **kwargs)` in a worker thread, in a copy of the caller's context (contextvars:
        the request id of the logs, who is acting for the events, see storage/actor.py)."""
        call = functools.partial(contextvars.copy_context().run, fn, *args, **kwargs)
        try:
            future = asyncio.get_running_loop().run_in_executor(self._pool, call)
        except RuntimeError:  # the pool is shut down
            raise StorageUnavailable("the server is shutting down") from None
        self._running.add(future)
        future.add_done_callback(self._running.discard)
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            await asyncio.wait([future])
            raise

    async def close(self, timeout: float = 30.0) -> None:
        """Refuse new calls, then wait up to `timeout` seconds for the running ones to end."""
        self._pool.shutdown(wait=False)
        if self._running:
            _, pending = await asyncio.wait(set(self._running), timeout=timeout)
            if pending:
                log.warning("%d blocking calls still running at shutdown after %.0f s", len(pending), timeout)
