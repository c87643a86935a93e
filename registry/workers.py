"""Running uvicorn in one or several worker processes.

uvicorn's own ``--workers`` shares one listening socket between the workers, and whichever is
awake first accepts a whole burst of connections: with keep-alive clients (a CI fleet, a
benchmark) one worker ends up with every connection while the others idle. Here each worker
binds its own socket with SO_REUSEPORT, so the kernel spreads connections evenly across them.
A supervisor restarts a worker that dies and stops them all on SIGINT/SIGTERM.

`cais serve` replaces itself with ``python -m registry.workers`` (see `exec_workers`) once the
settings are checked and the schema is migrated: the command line, Alembic and the account
tools stay out of the serving processes, each of which imports only what serving needs.
"""

from __future__ import annotations

import errno
import logging
import os
import signal
import socket
import subprocess
import sys
from types import FrameType
from typing import NoReturn

from . import handover, logs
from .config import Settings

APP = "registry.app:app_from_env"
log = logging.getLogger("cais.workers")


def _settings() -> Settings:
    return handover.received()


def _serve(host: str, port: int) -> None:
    import uvicorn

    from .http_server import uvicorn_options

    settings = _settings()
    config = uvicorn.Config(
        APP,
        factory=True,
        host=host,
        port=port,
        loop="uvloop",
        log_config=None,
        access_log=False,
        server_header=False,
        timeout_keep_alive=75,
        **uvicorn_options(settings),
    )
    sockets = [_listening_socket(host, port)]
    if settings.metrics.host is not None and settings.metrics.port is not None:
        sockets.append(_listening_socket(settings.metrics.host, settings.metrics.port))
    uvicorn.Server(config).run(sockets=sockets)


def _listening_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(2048)
    return sock


def _command(host: str, port: int, workers: int) -> list[str]:
    return [sys.executable, "-m", "registry.workers", host, str(port), str(workers)]


def address_problem(host: str, port: int) -> str | None:
    """Why this instance cannot listen on host:port, None if it can. The check binds without
    SO_REUSEPORT: workers share their port through it, and so would a second `cais serve` (or
    any program of this user that sets it), silently taking part of the traffic, which is why
    an address anything already listens on is refused."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a port in TIME_WAIT is free
            sock.bind((host, port))
    except socket.gaierror as exc:
        return f"cannot listen on {host}:{port}: unknown host ({exc.strerror})"
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            return f"{host}:{port} is already in use (by another cais serve or another program): stop it first"
        return f"cannot listen on {host}:{port}: {exc.strerror}"
    return None


def exec_workers(host: str, port: int, workers: int) -> NoReturn:
    """Replace this process with the serving one (same pid, so signals still reach it)."""
    sys.stdout.flush()
    sys.stderr.flush()
    command = _command(host, port, workers)
    os.execv(command[0], command)


class _Supervisor:
    def __init__(self, host: str, port: int, count: int) -> None:
        self.host, self.port, self.count = host, port, count
        self.stopping = False
        self.processes: list[subprocess.Popen[bytes]] = []

    def _start(self) -> subprocess.Popen[bytes]:
        return subprocess.Popen(_command(self.host, self.port, 1), pass_fds=(handover.inherited(),))

    def _stop(self, signum: int, _frame: FrameType | None) -> None:
        self.stopping = True
        for process in self.processes:
            if process.poll() is None:
                process.terminate()

    def run(self) -> None:
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, self._stop)
        self.processes = [self._start() for _ in range(self.count)]
        while not self.stopping:
            pid, status = os.wait()  # retried after a signal handler (PEP 475)
            for index, process in enumerate(self.processes):
                if process.pid == pid and not self.stopping:
                    self.processes[index] = self._start()
                    log.warning(
                        "worker %d %s; started worker %d in its place",
                        pid,
                        _exit_reason(status),
                        self.processes[index].pid,
                        extra={"worker": pid, "replacement": self.processes[index].pid, "status": status},
                    )
        for process in self.processes:
            process.wait()


def _exit_reason(status: int) -> str:
    code = os.waitstatus_to_exitcode(status)
    if code < 0:
        return f"was killed by {signal.Signals(-code).name}"
    return f"exited with status {code}"


def main(argv: list[str]) -> None:
    host, port, workers = argv[0], int(argv[1]), int(argv[2])
    if workers == 1:
        _serve(host, port)
    else:
        settings = _settings()
        logs.setup(settings.log.level, settings.log.format)
        _Supervisor(host, port, workers).run()


if __name__ == "__main__":
    main(sys.argv[1:])
