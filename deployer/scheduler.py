"""The deployer's background work in a serving process. Every worker of every replica runs a
Scheduler; the one that holds the `deployer` lease in the database reconciles (one at a time,
as ECS has one scheduler per service), runs the service proxies, copies container output and
samples CPU and memory. A holder that dies loses the lease after [deployer] lease seconds and
another process takes over, adopting the running containers (deployer/reconciler.py).

Nothing is loaded (no docker client) until a cluster exists, and no docker client for the local
engine while every cluster is bound to an external one.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
import uuid
from collections.abc import Callable

from storage.metadata import ecs_clusters, locks
from storage.metadata.engine import Database
from storage.threads import Threads

from . import records
from .engine import Engine
from .handover import Opener
from .logs import Collector, log_files
from .options import Options
from .proxy import Proxies
from .reconciler import Credentials, Reconciler

log = logging.getLogger("cais.deployer")
LEASE = "deployer"
USAGE_EVERY = 10  # rounds between two samples of each task's CPU and memory (docker stats)
JOBS = 8  # engine calls (pulls, starts, stops) at once, so that they never take every worker thread


def owner_id(data_dir: str) -> str:
    """This Cais's name on the containers it makes (kept with the data, so it survives restarts)."""
    path = os.path.join(data_dir, "deployer", "owner")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    try:
        with open(path) as file:
            return file.read().strip()
    except FileNotFoundError:
        owner = uuid.uuid4().hex
        with open(path, "x") as file:
            file.write(owner)
        return owner


class Scheduler:
    def __init__(
        self,
        db: Database,
        threads: Threads,
        options: Options,
        credentials: Credentials,
        engine: Callable[[], Engine],
        opener: Opener,
    ) -> None:
        self.db, self.threads, self.options, self.credentials = db, threads, options, credentials
        self._new_engine = engine
        self._open = opener
        self._holder = uuid.uuid4().hex
        self._reconciler: Reconciler | None = None
        self._collector: Collector | None = None
        self._proxies = Proxies()
        self._sampled = 0.0
        self._sampling: asyncio.Future[None] | None = None
        self._jobs: set[asyncio.Future[None]] = set()
        self._slots = asyncio.Semaphore(JOBS)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._warned = 0.0

    async def run(self) -> None:
        self._loop = asyncio.get_running_loop()
        try:
            while True:
                try:
                    if await self.threads.run(self._lead):
                        await self._round()
                    elif self._reconciler is not None:
                        await self._step_down()
                except Exception as exc:
                    self._warn(exc)
                await asyncio.sleep(self.options.interval)
        finally:
            await self._step_down()

    def _lead(self) -> bool:
        """Take or renew the lease; False when another process holds it or there is nothing to run
        (a registry without clusters only reads: no write lock taken every round)."""
        with self.db.read() as conn:
            idle = not ecs_clusters.listing(conn)
        if idle and self._reconciler is None:
            return False
        with self.db.write(durable=False) as conn:
            if idle:
                locks.release(conn, LEASE, self._holder)
                return False
            return locks.acquire(conn, LEASE, self._holder, self.options.lease)

    async def _round(self) -> None:
        if self._reconciler is None:
            self._reconciler = Reconciler(
                self.db, self._new_engine, self.options, self.credentials, self._spawn, self._open
            )
            files = log_files(self.options.data_dir, self.options.log_bytes)
            self._collector = Collector(files, self._reconciler.follow_logs)
            log.info("deployer scheduler started", extra={"holder": self._holder})
        reconciler = self._reconciler
        await self.threads.run(reconciler.tick)
        await self._proxies.update([(t.service, t.port, t.backends) for t in reconciler.targets])
        assert self._collector is not None
        for task_id, containers in reconciler.running.items():
            for container in containers:
                self._collector.watch(task_id, container.container, container.runtime_id)
        if time.monotonic() - self._sampled >= USAGE_EVERY * self.options.interval and self._sampling is None:
            # In the background: docker stats take a while per container, and the next rounds
            # (and the proxies' targets) must not wait for them.
            self._sampled = time.monotonic()
            self._sampling = asyncio.ensure_future(self.threads.run(self._sample, reconciler))
            self._sampling.add_done_callback(self._sampled_done)

    def _spawn(self, job: Callable[[], None]) -> None:
        """Run `job` on a worker thread soon (called from the round, itself on a worker thread)."""
        assert self._loop is not None
        self._loop.call_soon_threadsafe(self._start_job, job)

    def _start_job(self, job: Callable[[], None]) -> None:
        future = asyncio.ensure_future(self._job(job))
        self._jobs.add(future)
        future.add_done_callback(self._jobs.discard)

    async def _job(self, job: Callable[[], None]) -> None:
        async with self._slots:
            await self.threads.run(job)

    def _sampled_done(self, future: asyncio.Future[None]) -> None:
        self._sampling = None
        if not future.cancelled() and future.exception() is not None:
            log.warning("sampling task usage failed: %s", future.exception())

    def _sample(self, reconciler: Reconciler) -> None:
        for task_id, containers in reconciler.running.items():
            usages = [u for u in (reconciler.engine.usage(c.runtime_id) for c in containers) if u is not None]
            if usages:
                usage = {
                    "cpuPercent": sum(u.cpu_percent for u in usages),
                    "memoryBytes": sum(u.memory_bytes for u in usages),
                }
                records.update_task(self.db, task_id, {}, {"usage": usage})

    async def _step_down(self) -> None:
        await self._proxies.close()
        for job in list(self._jobs):
            job.cancel()  # one already running finishes first (Threads.run waits for its call)
        if self._reconciler is not None:
            self._reconciler = None
            log.info("deployer scheduler stopped", extra={"holder": self._holder})

    def _warn(self, exc: Exception) -> None:
        # An unreachable dockerd fails every round: say so once a minute, not every second.
        if time.monotonic() - self._warned >= 60:
            self._warned = time.monotonic()
            log.warning("deployer round failed: %s", exc, exc_info=exc)
