"""The benchmark harness keeps working: `python -m bench --smoke` starts both registries, runs
every workload at tiny sizes and prints a table with a measured value in every cell that
must have one. Nothing here is timed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from bench.workloads import CASES

ROOT = Path(__file__).resolve().parents[2]


def test_smoke_run_prints_the_whole_table(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke", "--work-dir", str(tmp_path / "work"), "--json", str(tmp_path / "r")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    rows = {line.split("|")[1].strip(): line for line in result.stdout.splitlines() if line.startswith("| ")}
    for case in CASES:
        cells = [cell.strip() for cell in rows[case.name].split("|")[1:-1]]
        distribution, cais = cells[2], cells[3]
        assert float(distribution.replace(",", "")) > 0 and float(cais.replace(",", "")) > 0, rows[case.name]
    for latency in ("pull_many p99", "wrk p99"):
        assert latency in rows
    assert "loopback TCP" in result.stdout
    assert "Peak RSS over the whole run: Distribution " in result.stdout
    assert not (tmp_path / "work").exists(), "the work directory is removed unless --keep"


def test_console_smoke_run_times_every_page(tmp_path: Path) -> None:
    """`python -m bench.console --smoke`: every console page answered and timed."""
    from bench.console import Seeded, pages

    result = subprocess.run(
        [sys.executable, "-m", "bench.console", "--smoke", "--work-dir", str(tmp_path / "work")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    rows = [line for line in result.stdout.splitlines() if line.startswith("| ") and "ms |" not in line]
    assert len(rows) == len(pages(Seeded(1, ["big/app"], ["sha256:0"]))), result.stdout
    assert all(float(row.split("|")[2]) > 0 for row in rows), result.stdout
    assert not (tmp_path / "work").exists()
