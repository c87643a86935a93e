"""Streaming a blob's bytes in large blocks, stopping early when the client goes away.

A blob on local disk is read on the event loop while the page cache holds it (``preadv`` with
RWF_NOWAIT never waits for the disk) and in a worker thread only when it must: pulls of hot
blobs then cost no thread hop per block. Other drivers' blocks are read in worker threads.
"""

from __future__ import annotations

import asyncio
import errno
import os
from collections.abc import AsyncGenerator, Iterator

from starlette.types import Message, Receive, Scope, Send

from storage.drivers.base import Driver
from storage.threads import Threads

BLOCK = 1 << 20
_NO_WAIT = getattr(os, "RWF_NOWAIT", 0)


def _next_block(blocks: Iterator[bytes]) -> bytes | None:
    return next(blocks, None)


async def _driver_blocks(
    driver: Driver, threads: Threads, key: str, start: int, end: int
) -> AsyncGenerator[bytes | bytearray, None]:
    blocks = await threads.run(driver.read, key, start, end)
    try:
        while (block := await threads.run(_next_block, blocks)) is not None:
            yield block
    finally:
        close = getattr(blocks, "close", None)
        if close is not None:
            close()


def _read_cached(fd: int, buffer: bytearray, offset: int) -> int | None:
    """Bytes read from the page cache, or None when that would wait for the disk."""
    if not _NO_WAIT:
        return None
    try:
        return os.preadv(fd, [buffer], offset, _NO_WAIT)
    except OSError as exc:
        if exc.errno in (errno.EAGAIN, errno.EOPNOTSUPP, errno.EINVAL):
            return None
        raise


async def _file_blocks(threads: Threads, path: str, start: int, end: int) -> AsyncGenerator[bytes | bytearray, None]:
    fd = os.open(path, os.O_RDONLY)
    try:
        offset = start
        while offset < end:
            buffer = bytearray(min(BLOCK, end - offset))  # a new one each time: the transport may keep it
            got = _read_cached(fd, buffer, offset)
            if got is None:
                got = await threads.run(os.preadv, fd, [buffer], offset)
            if got == 0:
                return
            del buffer[got:]
            offset += got
            yield buffer
    finally:
        os.close(fd)


class BlobResponse:
    def __init__(
        self,
        driver: Driver,
        threads: Threads,
        key: str,
        span: tuple[int, int],
        status: int,
        headers: dict[str, str],
        send_body: bool,
    ) -> None:
        self.driver, self.threads, self.key, self.span = driver, threads, key, span
        self.status = status
        self.headers = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
        self.send_body = send_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status, "headers": self.headers})
        start, end = self.span
        if self.send_body and end > start:
            await self._stream(receive, send, start, end)
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    def _blocks(self, start: int, end: int) -> AsyncGenerator[bytes | bytearray, None]:
        path = self.driver.local_path(self.key)
        if path:
            return _file_blocks(self.threads, path, start, end)
        return _driver_blocks(self.driver, self.threads, self.key, start, end)

    async def _stream(self, receive: Receive, send: Send, start: int, end: int) -> None:
        gone = asyncio.Event()

        async def watch() -> None:
            message: Message = {"type": ""}
            while message["type"] != "http.disconnect":
                message = await receive()
            gone.set()

        watcher = asyncio.ensure_future(watch())
        blocks = self._blocks(start, end)
        try:
            async for block in blocks:
                await send({"type": "http.response.body", "body": block, "more_body": True})
                if gone.is_set():
                    break
        finally:
            watcher.cancel()
            await blocks.aclose()
