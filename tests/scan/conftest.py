"""A registry that scans, with the test advisory database imported by the CLI."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.server import CAIS, ServerProcess, free_port

ADVISORIES = Path(__file__).parent / "advisories"
# Scans are picked up at once and a dead worker's scan is retried within seconds.
SCAN_ENV = {"CAIS_SCAN__POLL_INTERVAL": "0.2s", "CAIS_SCAN__LEASE": "4s"}


def cli(data_dir: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([*CAIS, *args, "--data-dir", str(data_dir)], capture_output=True, text=True, timeout=300)
    if check and result.returncode != 0:
        raise AssertionError(f"cais {' '.join(args)} failed ({result.returncode}): {result.stderr}")
    return result


@pytest.fixture(scope="module")
def scanning(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    data_dir = tmp_path_factory.mktemp("scan") / "data"
    cli(data_dir, "vulndb", "import", str(ADVISORIES))
    server = ServerProcess(data_dir, free_port(), env={**SCAN_ENV, "CAIS_SCAN__MAX_LAYER_BYTES": "64MiB"}).start()
    try:
        yield server
    finally:
        server.stop()
