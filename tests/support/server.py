"""Starting real `cais serve` processes for tests (uvicorn over HTTP, no in-process shortcuts)."""

from __future__ import annotations

import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

CAIS = [sys.executable, "-m", "registry.cli"]


def wait_for(predicate: Callable[[], bool], timeout: float = 15.0) -> None:
    """Poll until predicate() holds; fail after a generous timeout (never a timed assertion)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.1)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ServerProcess:
    data_dir: Path
    port: int
    args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None
    host: str = "127.0.0.1"
    ca: Path | None = None  # the server speaks TLS (configured in env or args) with a certificate of this CA

    @property
    def address(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        return f"{'https' if self.ca else 'http'}://{self.address}"

    @property
    def verify(self) -> ssl.SSLContext | bool:
        """What httpx verifies the server with."""
        return ssl.create_default_context(cafile=str(self.ca)) if self.ca else True

    @property
    def log_path(self) -> Path:
        return self.data_dir.parent / f"{self.data_dir.name}-{self.port}.log"

    def start(self, timeout: float = 30.0) -> ServerProcess:
        env = {**os.environ, **self.env}
        command = [*CAIS, "serve", "--listen", self.address, "--data-dir", str(self.data_dir), *self.args]
        with open(self.log_path, "ab") as log:
            log_start = log.tell()
            self.proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"cais serve exited with {self.proc.returncode}: {self.log()[-3000:]}")
            if self._healthy() and self._workers_started(log_start) >= self._workers():
                return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"cais serve did not become healthy: {self.log()[-3000:]}")

    def _healthy(self) -> bool:
        try:
            return httpx.get(f"{self.url}/healthz", timeout=1, verify=self.verify).status_code == 200
        except httpx.HTTPError:
            return False

    def _workers(self) -> int:
        """How many worker processes were asked for: tests that spread load need all of them up."""
        return int(self.args[self.args.index("--workers") + 1]) if "--workers" in self.args else 1

    def _workers_started(self, log_start: int) -> int:
        with open(self.log_path, "rb") as log:
            log.seek(log_start)
            return log.read().count(b"Application startup complete")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        self._signal(signal.SIGTERM, wait=10)

    def kill(self) -> None:
        """SIGKILL the whole process group: no cleanup runs, as in a crash."""
        self._signal(signal.SIGKILL, wait=10)

    def _signal(self, sig: int, wait: float) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, sig)
            self.proc.wait(wait)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(wait)
        except ProcessLookupError:
            pass
