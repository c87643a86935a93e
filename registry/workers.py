"""Running uvicorn in one or several worker processes.

uvicorn's own ``--workers`` shares one listening socket between the workers, and whichever is
awake first accepts a whole burst of connections: with keep-alive clients (a CI fleet, a
benchmark) one worker ends up with every connection while the others idle. Here each worker
binds its own socket with SO_REUSEPORT, so the kernel spreads connections evenly across them.
A supervisor restarts a worker that dies and stops them all on SIGINT/SIGTERM.
"""

from __future__ import annotations

import multiprocessing
import signal
import socket
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess
from types import FrameType
from typing import Any

APP = "registry.app:app_from_env"


def _config(host: str, port: int) -> Any:
    import uvicorn

    return uvicorn.Config(
        APP,
        factory=True,
        host=host,
        port=port,
        loop="uvloop",
        http="httptools",
        log_config=None,
        access_log=False,
        server_header=False,
        timeout_keep_alive=75,
    )


def _listening_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(2048)
    return sock


def _worker(host: str, port: int) -> None:
    import uvicorn

    sock = _listening_socket(host, port)
    uvicorn.Server(_config(host, port)).run(sockets=[sock])


def run(host: str, port: int, workers: int) -> None:
    if workers == 1:
        import uvicorn

        uvicorn.Server(_config(host, port)).run()
        return
    _listening_socket(host, port).close()  # fail here, once, if the address is taken
    _Supervisor(host, port, workers).run()


class _Supervisor:
    def __init__(self, host: str, port: int, count: int) -> None:
        self.host, self.port, self.count = host, port, count
        self.stopping = False
        self.context = multiprocessing.get_context("spawn")

    def _start(self) -> BaseProcess:
        process = self.context.Process(target=_worker, args=(self.host, self.port), daemon=False)
        process.start()
        return process

    def _stop(self, signum: int, _frame: FrameType | None) -> None:
        self.stopping = True
        for process in self.processes:
            if process.is_alive():
                process.terminate()

    def run(self) -> None:
        self.processes = [self._start() for _ in range(self.count)]
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, self._stop)
        while not self.stopping:
            wait([process.sentinel for process in self.processes])
            for index, process in enumerate(self.processes):
                if not process.is_alive() and not self.stopping:
                    self.processes[index] = self._start()
        for process in self.processes:
            process.join()
