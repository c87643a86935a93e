"""A registry that scans, with the test advisory database imported by the CLI."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from registry.cli import main
from tests.support.server import ServerProcess, free_port

ADVISORIES = Path(__file__).parent / "advisories"
# Scans are picked up at once and a dead worker's scan is retried within seconds.
SCAN_ENV = {"CAIS_SCAN__POLL_INTERVAL": "0.2s", "CAIS_SCAN__LEASE": "4s", "CAIS_EVENTS__POLL_INTERVAL": "0.2s"}


@dataclass
class Ran:
    returncode: int
    stdout: str
    stderr: str


def cli(data_dir: Path, *args: str, check: bool = True) -> Ran:
    """`cais ARGS --data-dir DATA_DIR`, run in this process as the `cais` script runs it."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([*args, "--data-dir", str(data_dir)])
    ran = Ran(code, out.getvalue(), err.getvalue())
    if check and code != 0:
        raise AssertionError(f"cais {' '.join(args)} failed ({code}): {ran.stderr}")
    return ran


@pytest.fixture(scope="module")
def scanning(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    data_dir = tmp_path_factory.mktemp("scan") / "data"
    cli(data_dir, "vulndb", "import", str(ADVISORIES))
    server = ServerProcess(data_dir, free_port(), env={**SCAN_ENV, "CAIS_SCAN__MAX_LAYER_BYTES": "64MiB"}).start()
    try:
        yield server
    finally:
        server.stop()
