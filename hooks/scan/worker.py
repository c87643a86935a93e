"""Working the scan queue, in every serving process and replica, off the request path.

Each pass claims queued scans one at a time (storage/metadata/scans.py: a lease on the row and
on the image digest), runs them in this thread, and records the outcome with its events in
one transaction. A scan renews its lease as it goes; a process that dies mid-scan loses it,
and another process takes the scan up once it runs out, reusing the layers already indexed.
A scan that kills its process every time is given up after MAX_ATTEMPTS.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid

from storage.errors import ManifestUnknown, NameUnknown
from storage.metadata import scans
from storage.metadata.engine import Database
from storage.metadata.scans import ScanRow
from storage.threads import Threads

from . import events
from .scanner import KeepAlive, Outcome, Progress, Scanner

MAX_ATTEMPTS = 3
PASS = 100  # scans run per pass at most, so that a long queue does not starve the process's other jobs
log = logging.getLogger("cais.scan")


class Stop(Exception):
    """The scan lost its lease or the process is stopping."""


class ScanWorker:
    def __init__(self, db: Database, scanner: Scanner, lease: float) -> None:
        self.db = db
        self.scanner = scanner
        self.lease = lease
        self.holder = uuid.uuid4().hex
        self.stopping = False
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    # -- claiming and running -----------------------------------------------------------------
    def claim(self) -> ScanRow | None:
        with self.db.write(durable=False) as conn:
            return scans.claim(conn, self.holder, self.lease)

    def work(self) -> int:
        """Run queued scans until none is left (or PASS of them); returns how many ran."""
        done = 0
        while done < PASS and not self.stopping and (row := self.claim()) is not None:
            self.run(row)
            done += 1
        return done

    def run(self, row: ScanRow, progress: Progress | None = None) -> Outcome | None:
        """Run a claimed scan and record its outcome; None when it was handed back unfinished."""
        if row.attempts > MAX_ATTEMPTS:
            return self._record(
                row, Outcome(scans.FAILED, f"ScanFailed: stopped {MAX_ATTEMPTS} times without finishing")
            )
        started = time.monotonic()
        try:
            outcome = self.scanner.scan(row.repository, row.digest, self._keepalive(row), progress)
        except Stop:
            with self.db.write(durable=False) as conn:
                scans.release(conn, row.repository_id, row.digest, self.holder)
            return None
        except (ManifestUnknown, NameUnknown):
            with self.db.write(durable=False) as conn:
                scans.forget(conn, row.repository_id, row.digest)  # the image was deleted meanwhile
            return None
        except Exception as exc:
            log.exception("scan of %s@%s failed", row.repository, row.digest)
            outcome = Outcome(scans.FAILED, f"ScanFailed: internal error: {exc!r}"[:1000])
        log.info(
            "scanned %s@%s: %s",
            row.repository,
            row.digest,
            outcome.status,
            extra={"seconds": round(time.monotonic() - started, 3), "counts": outcome.counts},
        )
        return self._record(row, outcome)

    def _keepalive(self, row: ScanRow) -> KeepAlive:
        last = [time.monotonic()]

        def keepalive() -> None:
            if self.stopping:
                raise Stop
            if time.monotonic() - last[0] < self.lease / 4:
                return
            with self.db.write(durable=False) as conn:
                if not scans.renew(conn, row.repository_id, row.digest, self.holder, self.lease):
                    raise Stop
            last[0] = time.monotonic()

        return keepalive

    def _record(self, row: ScanRow, outcome: Outcome) -> Outcome:
        if outcome.findings is not None:
            events.observed(row.findings, outcome.findings, time.time())
        with self.db.write() as conn:
            previous = scans.finish(
                conn,
                row.repository_id,
                row.digest,
                self.holder,
                outcome.status,
                outcome.description,
                outcome.source_updated_at,
                outcome.counts,
                outcome.findings,
            )
            if previous is not None:
                events.announce(conn, previous, outcome.status, outcome.description, outcome.counts, outcome.findings)
        return outcome

    # -- the background loop ------------------------------------------------------------------
    def wake(self) -> None:
        """Look at the queue now rather than at the next poll (safe from any thread)."""
        if self._loop is not None and self._wake is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    async def run_forever(self, threads: Threads, poll: float) -> None:
        self._loop, self._wake = asyncio.get_running_loop(), asyncio.Event()
        while True:
            self._wake.clear()
            try:
                await threads.run(self.work)
            except Exception:
                log.exception("scan queue pass failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), poll)


def prune_scans(db: Database) -> int:
    """Forget scans of deleted images, and layer indexes and inventories nothing uses."""
    with db.write(durable=False) as conn:
        return scans.prune(conn)
