"""Background jobs: each runs every `interval` seconds in a worker thread until cancelled. A
failure is logged and the job runs again at the next tick."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from storage.threads import Threads

log = logging.getLogger("cais.jobs")


async def every(threads: Threads, name: str, interval: float, job: Callable[[], object]) -> None:
    while True:
        try:
            result = await threads.run(job)
            if result:
                log.info("%s done", name, extra={"job": name, "result": str(result)[:500]})
        except Exception:
            log.exception("%s failed", name, extra={"job": name})
        await asyncio.sleep(interval)
