"""The two registries under test, each started on a free loopback port with fresh storage."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from . import procstat
from .client import Connection

ROOT = Path(__file__).resolve().parents[1]

DISTRIBUTION_CONFIG = """\
version: 0.1
log:
  level: info
storage:
  filesystem:
    rootdirectory: {root}
  delete:
    enabled: true
  cache:
    blobdescriptor: inmemory
http:
  addr: 127.0.0.1:{port}
  headers:
    X-Content-Type-Options: [nosniff]
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """A registry process tree; `state` carries what one workload leaves for the next."""

    name = ""
    probe = "/v2/"  # answers 200 once the server serves (/healthz for a Cais with authentication)

    def __init__(self, work_dir: Path) -> None:
        self.dir = work_dir / self.name.lower()
        self.dir.mkdir(parents=True)
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.state: dict[str, Any] = {}
        self.helpers: list[subprocess.Popen[bytes]] = []  # processes a workload started beside it

    def command(self) -> list[str]:
        raise NotImplementedError

    def start(self, timeout: float = 60) -> None:
        with open(self.dir / "server.log", "wb") as log:
            self.proc = subprocess.Popen(
                self.command(), cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}; see {self.dir / 'server.log'}")
            if self._answers():
                return
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.name} did not start in {timeout}s; see {self.dir / 'server.log'}")

    def _answers(self) -> bool:
        try:
            conn = Connection("127.0.0.1", self.port)
        except OSError:
            return False
        try:
            return conn.request("GET", self.probe).status == 200
        except OSError:
            return False
        finally:
            conn.close()

    def pids(self) -> list[int]:
        assert self.proc is not None
        return procstat.process_tree(self.proc.pid)

    def stop(self) -> None:
        for helper in self.helpers:
            helper.terminate()
            helper.wait(15)
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(15)


class Distribution(Server):
    name = "Distribution"

    def command(self) -> list[str]:
        config = self.dir / "config.yml"
        config.write_text(DISTRIBUTION_CONFIG.format(root=self.dir / "storage", port=self.port))
        return ["docker-registry", "serve", str(config)]


class Cais(Server):
    name = "Cais"

    def __init__(self, work_dir: Path, workers: int) -> None:
        super().__init__(work_dir)
        self.workers = workers

    def command(self) -> list[str]:
        listen = f"127.0.0.1:{self.port}"
        data = str(self.dir / "data")
        return [sys.executable, "-m", "registry.cli", "serve", "--listen", listen, "--data-dir", data,
                "--workers", str(self.workers)]  # fmt: skip
