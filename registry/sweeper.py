"""Background removal of abandoned upload sessions and their bytes."""

from __future__ import annotations

import asyncio
import logging

from starlette.concurrency import run_in_threadpool

from storage.uploads import Uploads

log = logging.getLogger("cais.sweeper")


async def sweep_uploads(uploads: Uploads, max_age: float, interval: float) -> None:
    """Runs until cancelled. Every worker may run it: removal is a compare-and-delete."""
    while True:
        try:
            removed = await run_in_threadpool(uploads.expire, max_age)
            if removed:
                log.info("expired upload sessions", extra={"removed": removed})
        except Exception:
            log.exception("upload sweep failed")
        await asyncio.sleep(interval)
