"""A real webhook receiver for tests: uvicorn on 127.0.0.1 in a thread of the test process,
recording every request and answering as the test scripts it (statuses in turn, a hang)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import uvicorn

from .server import free_port, wait_for


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float


@dataclass
class Receiver:
    port: int = field(default_factory=free_port)
    received: list[Received] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)  # answered in turn, then 200
    headers: dict[str, str] = field(default_factory=dict)  # sent with every non-2xx answer
    hang: float = 0.0  # seconds to wait before answering
    hold: threading.Event | None = None  # when set on start: requests wait until it is set
    _server: uvicorn.Server | None = None
    _thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    async def __call__(
        self, scope: dict[str, object], receive: Callable[..., object], send: Callable[..., object]
    ) -> None:
        assert scope["type"] == "http"
        body = b""
        while True:
            message = await receive()  # type: ignore[misc]
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        raw = scope["headers"]
        headers = {key.decode().lower(): value.decode() for key, value in raw}  # type: ignore[attr-defined]
        self.received.append(Received(str(scope["path"]), headers, body, time.time()))
        if self.hold is not None:
            while not self.hold.is_set():
                await asyncio.sleep(0.05)
        if self.hang:
            await asyncio.sleep(self.hang)
        status = self.statuses.pop(0) if self.statuses else 200
        extra = [(k.encode(), v.encode()) for k, v in self.headers.items()] if status >= 300 else []
        await send({"type": "http.response.start", "status": status, "headers": extra})  # type: ignore[misc]
        await send({"type": "http.response.body", "body": b"ok" if status < 300 else b"no"})  # type: ignore[misc]

    def start(self) -> Receiver:
        config = uvicorn.Config(
            self, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off", timeout_graceful_shutdown=1
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        wait_for(lambda: self._server is not None and self._server.started)
        return self

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(10)
            self._server = None

    @classmethod
    @contextmanager
    def running(cls) -> Iterator[Receiver]:
        found = cls().start()
        try:
            yield found
        finally:
            found.stop()

    def wait(self, count: int, timeout: float = 30.0) -> list[Received]:
        wait_for(lambda: len(self.received) >= count, timeout)
        return list(self.received)
