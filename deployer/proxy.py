"""The built-in service endpoint, the stand-in for a load balancer's target group: a TCP proxy
on 127.0.0.1:<containerPort> that sends each new connection to one of the service's RUNNING and
healthy tasks, in turn. A task leaves the rotation as soon as the scheduler decides to stop it
and is stopped only after [deployer] drain, so that a rolling update is invisible to clients:
connections already open finish on the old task, new ones go to the others. A backend that
refuses a connection is skipped for the next one."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging

log = logging.getLogger("cais.deployer.proxy")
CONNECT_TIMEOUT = 5.0
CHUNK = 64 << 10


class ServiceProxy:
    def __init__(self, name: str, port: int) -> None:
        self.name, self.port = name, port
        self.backends: tuple[int, ...] = ()
        self._turn = itertools.count()
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port, reuse_address=True)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream = await self._connect()
        if upstream is None:
            writer.close()
            return
        up_reader, up_writer = upstream
        try:
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        finally:
            for end in (writer, up_writer):
                end.close()

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        backends = self.backends
        start = next(self._turn)
        for offset in range(len(backends)):
            port = backends[(start + offset) % len(backends)]
            try:
                return await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), CONNECT_TIMEOUT)
            except (OSError, TimeoutError):
                continue
        log.warning("service %s: no healthy task to send a connection to", self.name)
        return None


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while chunk := await reader.read(CHUNK):
            writer.write(chunk)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except (ConnectionError, OSError):
        writer.close()


class Proxies:
    """The proxies of every service that has a port, kept in step with the scheduler's targets."""

    def __init__(self) -> None:
        self._running: dict[str, ServiceProxy] = {}

    async def update(self, targets: list[tuple[str, int, tuple[int, ...]]]) -> None:
        wanted = {name: (port, backends) for name, port, backends in targets}
        for name, proxy in list(self._running.items()):
            if name not in wanted or wanted[name][0] != proxy.port:
                await proxy.close()
                del self._running[name]
        for name, (port, backends) in wanted.items():
            if name not in self._running:
                proxy = ServiceProxy(name, port)
                try:
                    await proxy.start()
                except OSError as exc:
                    log.warning("service %s: cannot listen on 127.0.0.1:%d: %s", name, port, exc)
                    continue
                self._running[name] = proxy
            self._running[name].backends = backends

    async def close(self) -> None:
        for proxy in self._running.values():
            await proxy.close()
        self._running.clear()
