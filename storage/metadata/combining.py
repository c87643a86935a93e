"""Combining work from several threads into batches, leader and followers.

A thread that hands in work while no batch is running leads: it takes everything handed in so
far (its own work included) and runs it as one batch. Threads that hand in work meanwhile
wait; when the batch ends, the first of them leads the next batch, which holds everything
handed in by then. Each thread gets back its own result or exception. The database uses it to
run concurrent small write transactions as one (see engine.Database.write_shared).

A job runs in the context (contextvars) of the thread that handed it in, not the leader's:
what it writes is attributed to its own request (storage/actor.py).
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from sqlalchemy import Connection

T = TypeVar("T")


@dataclass(eq=False)
class Job(Generic[T]):
    work: Callable[[Connection], T]
    context: contextvars.Context = field(default_factory=contextvars.copy_context)
    result: T | None = None
    error: BaseException | None = None
    commit: int = 0  # the batch's commit, for the durable wait
    _wake: threading.Event = field(default_factory=threading.Event)
    _lead: bool = False
    _done: bool = False

    def outcome(self) -> T:
        if self.error is not None:
            raise self.error
        return self.result  # type: ignore[return-value]  # set by the batch when no error

    def run(self, conn: Connection) -> None:
        """Run the work, in its own thread's context, and keep its result."""
        self.result = self.context.run(self.work, conn)


class Combiner:
    def __init__(self, run_batch: Callable[[list[Job[Any]]], None]) -> None:
        self._run_batch = run_batch
        self._lock = threading.Lock()
        self._waiting: list[Job[Any]] = []
        self._running = False

    def run(self, work: Callable[[Connection], T]) -> Job[T]:
        """Hand in `work` and return its job once a batch has run it."""
        job: Job[T] = Job(work)
        with self._lock:
            self._waiting.append(job)
            job._lead = not self._running
            self._running = True
        while not job._done:
            if job._lead:
                self._lead()
            else:
                job._wake.wait()
                job._wake.clear()
        return job

    def _lead(self) -> None:
        with self._lock:
            batch, self._waiting = self._waiting, []
        try:
            self._run_batch(batch)
        except BaseException as exc:  # the batch as a whole failed: so did each of its jobs
            for job in batch:
                job.error = job.error or exc
            raise
        finally:
            with self._lock:
                following = self._waiting[0] if self._waiting else None
                self._running = following is not None
                if following is not None:
                    following._lead = True
            for job in batch:
                job._done = True
                job._wake.set()
            if following is not None:
                following._wake.set()
