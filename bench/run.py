"""`python -m bench`: start both registries, run every workload against each (interleaved,
alternating which goes first), and print the markdown table."""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

from . import limits, procstat, report
from .servers import Cais, Distribution, Server
from .workloads import CASES, SMOKE, Case, Sizes

DESCRIPTION = """\
Benchmark Cais against CNCF Distribution (Debian's docker-registry) side by side on loopback,
each with fresh storage, and print one markdown table (see bench/README.md)."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=DESCRIPTION)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, one repetition: checks the harness works")
    parser.add_argument("--reps", type=int, help="repetitions of every workload (default 3, smoke 1)")
    parser.add_argument("--workers", type=int, default=2, help="Cais worker processes (default 2)")
    parser.add_argument("--only", metavar="NAMES", help="comma-separated workloads to run (default all)")
    parser.add_argument("--work-dir", metavar="DIR", help="where both servers keep their data (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (data and server logs)")
    parser.add_argument("--json", metavar="FILE", help="also write every sample as JSON")
    parser.add_argument("--no-drop-caches", action="store_true", help="do not drop the page cache before pushes")
    return parser


def _client_cpu() -> float:
    """This process's CPU plus that of finished children (wrk)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def drop_caches() -> None:
    """New data slows the page cache down on these VMs: start every push from a clean one."""
    subprocess.run(["sync"], check=True)
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("3")


def measure(server: Server, case: Case, sizes: Sizes, rep: int, drop: bool) -> report.Sample:
    prepared = case.prepare(server, sizes, rep)
    if case.pushes and drop:
        drop_caches()
    pids = server.pids()
    procstat.reset_peak_rss(pids)
    server_before, client_before = procstat.cpu_seconds(pids), _client_cpu()
    started = time.perf_counter()
    outcome = case.run(server, sizes, prepared)
    wall = time.perf_counter() - started
    server_cpu = procstat.cpu_seconds(pids) - server_before
    client_cpu = _client_cpu() - client_before
    peak = max(procstat.peak_rss(pids).values(), default=0)
    return report.Sample(
        rate=outcome.units / (outcome.seconds or wall),
        cpu_per_unit=server_cpu * case.cpu_scale / (outcome.requests or outcome.units),
        peak_rss_mib=peak / (1 << 20),
        client_cpu_pct=100 * client_cpu / wall,
        p50_ms=outcome.p50_ms,
        p99_ms=outcome.p99_ms,
    )


def run(args: argparse.Namespace, work_dir: Path) -> str:
    sizes = SMOKE if args.smoke else Sizes()
    reps = args.reps or (1 if args.smoke else 3)
    wanted = set(args.only.split(",")) if args.only else {case.name for case in CASES}
    cases = [case for case in CASES if case.name in wanted]
    drop = not args.no_drop_caches and not args.smoke and os.geteuid() == 0
    print("measuring the machine's limits...", file=sys.stderr)
    machine = limits.measure(work_dir, sizes.limit_bytes)
    servers: list[Server] = [Distribution(work_dir), Cais(work_dir, args.workers)]
    results: dict[str, dict[str, list[report.Sample]]] = {case.name: {} for case in cases}
    try:
        for server in servers:
            server.start()
        for rep in range(reps):
            order = servers if rep % 2 == 0 else servers[::-1]
            for case in cases:
                for server in order:
                    sample = measure(server, case, sizes, rep, drop)
                    results[case.name].setdefault(server.name, []).append(sample)
                    print(f"rep {rep + 1}/{reps} {case.name:<13} {server.name:<13} {sample}", file=sys.stderr)
    finally:
        for server in servers:
            server.stop()
    if args.json:
        Path(args.json).write_text(json.dumps({"limits": machine, "results": _plain(results)}, indent=1))
    rows = [(c.name, c.rate_unit, c.cpu_unit, c.limit) for c in cases]
    return (
        f"Cais with {args.workers} workers; {reps} repetition(s), median (min-max).\n\n"
        + report.table(rows, results, machine)
        + "\n\nMachine limits:\n"
        + report.limits_lines(machine)
        + "\n\n"
        + report.peak_memory(results)
        + "\n"
    )


def _plain(results: dict[str, dict[str, list[report.Sample]]]) -> dict[str, dict[str, list[dict[str, object]]]]:
    return {case: {name: [asdict(s) for s in samples] for name, samples in by.items()} for case, by in results.items()}


def _exit_on_sigterm(signum: int, _frame: object) -> None:
    sys.exit(128 + signum)  # unwinds through the finally blocks that stop both servers


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    if shutil.which("docker-registry") is None or shutil.which("wrk") is None:
        print("bench: needs docker-registry and wrk (apt-get install docker-registry wrk)", file=sys.stderr)
        return 2
    work_dir = Path(args.work_dir or tempfile.mkdtemp(prefix="cais-bench-"))
    work_dir.mkdir(parents=True, exist_ok=True)
    try:
        print(run(args, work_dir))
    finally:
        if not args.keep:
            shutil.rmtree(work_dir, ignore_errors=True)
    return 0
