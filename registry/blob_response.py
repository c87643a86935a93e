"""Streaming a blob's bytes: large blocks read off the event loop, stopping early when the
client goes away."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

from starlette.concurrency import run_in_threadpool
from starlette.types import Message, Receive, Scope, Send

from storage.drivers.base import Driver


def _next_block(blocks: Iterator[bytes]) -> bytes | None:
    return next(blocks, None)


class BlobResponse:
    def __init__(
        self,
        driver: Driver,
        key: str,
        span: tuple[int, int],
        status: int,
        headers: dict[str, str],
        send_body: bool,
    ) -> None:
        self.driver, self.key, self.span = driver, key, span
        self.status = status
        self.headers = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
        self.send_body = send_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status, "headers": self.headers})
        start, end = self.span
        if self.send_body and end > start:
            await self._stream(receive, send, start, end)
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _stream(self, receive: Receive, send: Send, start: int, end: int) -> None:
        gone = asyncio.Event()

        async def watch() -> None:
            message: Message = {"type": ""}
            while message["type"] != "http.disconnect":
                message = await receive()
            gone.set()

        watcher = asyncio.ensure_future(watch())
        blocks = await run_in_threadpool(self.driver.read, self.key, start, end)
        try:
            while not gone.is_set():
                block = await run_in_threadpool(_next_block, blocks)
                if block is None:
                    break
                await send({"type": "http.response.body", "body": block, "more_body": True})
        finally:
            watcher.cancel()
            close = getattr(blocks, "close", None)
            if close is not None:
                close()
