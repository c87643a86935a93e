"""The serving processes: a supervisor that keeps its workers running, and workers that load
only what serving needs (the memory every worker costs, issue 5)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import httpx

from tests.support.server import ServerProcess, wait_for

# Libraries that serving without authentication, on disk and SQLite, never needs: the command
# line's migrations, the PostgreSQL dialect, S3, the token and password libraries, pydantic
# (the configuration needs none), and the web console's templates (only with [ui] enabled).
NOT_FOR_SERVING = (
    "alembic",
    "argon2",
    "boto3",
    "botocore",
    "cryptography",
    "jinja2",
    "jwt",
    "pydantic",
    "sqlalchemy.dialects.postgresql",
)


def _children(pid: int) -> set[int]:
    with open(f"/proc/{pid}/task/{pid}/children") as f:
        return {int(child) for child in f.read().split()}


def test_the_supervisor_replaces_a_worker_that_dies(start_server: Callable[..., ServerProcess]) -> None:
    server = start_server(args=["--workers", "2"])
    proc = server.proc
    assert proc is not None
    workers = _children(proc.pid)  # `cais serve` replaced itself with the supervisor
    assert len(workers) == 2
    victim = min(workers)
    os.kill(victim, signal.SIGKILL)
    wait_for(lambda: len(_children(proc.pid) - {victim}) == 2)
    assert httpx.get(f"{server.url}/v2/").status_code == 200
    replacement = (_children(proc.pid) - workers).pop()
    wait_for(
        lambda: f"worker {victim} was killed by SIGKILL; started worker {replacement} in its place" in server.log()
    )
    survivors = _children(proc.pid)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(15) == 0
    assert not any(_is_running(pid) for pid in survivors)


def _is_running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_a_worker_loads_only_what_serving_needs(tmp_path: Path) -> None:
    """What `python -m registry.workers` and uvicorn import, and the app it builds."""
    probe = textwrap.dedent(
        f"""
        import sys
        import registry.workers, uvicorn, uvloop, httptools
        from registry import config
        from registry.app import build_app
        build_app(config.load(None, {{"server": {{"data_dir": {str(tmp_path)!r}}}}}))
        print(" ".join(sorted(name for name in {NOT_FOR_SERVING!r} if name in sys.modules)))
        """
    )
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert loaded.split() == []
