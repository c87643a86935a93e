"""The one way blocking calls leave the event loop: storage.threads.Threads."""

from __future__ import annotations

import ast
import asyncio
import threading
import time
from pathlib import Path

import pytest

from storage.drivers.base import StorageUnavailable
from storage.threads import Threads

ROOT = Path(__file__).resolve().parents[2]
# Other ways of running a call in a thread; the S3 driver's copy pool lives within one call.
OTHER_WAYS = {"run_in_threadpool", "to_thread", "run_in_executor", "ThreadPoolExecutor", "run_sync"}
ALLOWED = {
    ROOT / "storage" / "threads.py": {"ThreadPoolExecutor", "run_in_executor"},
    ROOT / "storage" / "drivers" / "s3.py": {"ThreadPoolExecutor"},
}


def _names(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Attribute):
            found.add(node.attr)
        elif isinstance(node, ast.Name):
            found.add(node.id)
        elif isinstance(node, ast.ImportFrom):
            found |= {alias.name for alias in node.names}
    return found & OTHER_WAYS


@pytest.mark.parametrize("package", ["registry", "storage", "hooks", "deployer"])
def test_blocking_calls_go_through_the_one_helper(package: str) -> None:
    for path in (ROOT / package).rglob("*.py"):
        extra = _names(path) - ALLOWED.get(path, set())
        assert not extra, f"{path.relative_to(ROOT)} runs threads its own way: {extra}"


def test_run_passes_arguments_and_bounds_the_threads() -> None:
    threads = Threads(limit=2)
    running, peak, lock = 0, 0, threading.Lock()

    def work(value: int, *, scale: int) -> int:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        time.sleep(0.05)
        with lock:
            running -= 1
        return value * scale

    async def main() -> list[int]:
        return await asyncio.gather(*(threads.run(work, n, scale=10) for n in range(6)))

    assert asyncio.run(main()) == [0, 10, 20, 30, 40, 50]
    assert peak == 2


def test_close_waits_for_running_calls_then_refuses_new_ones() -> None:
    threads = Threads()
    started, release = threading.Event(), threading.Event()
    finished: list[str] = []

    def slow() -> None:
        started.set()
        release.wait(10)
        finished.append("slow")

    async def main() -> None:
        call = asyncio.ensure_future(threads.run(slow))
        await asyncio.to_thread(started.wait, 10)
        closing = asyncio.ensure_future(threads.close())
        await asyncio.sleep(0.05)
        assert not closing.done()  # the running call holds it up
        release.set()
        await closing
        assert finished == ["slow"]
        await call
        with pytest.raises(StorageUnavailable):
            await threads.run(print)
        await threads.close()  # twice is fine

    asyncio.run(main())


def test_a_cancelled_caller_waits_for_its_call() -> None:
    """A request cut short never leaves its store call running behind it."""
    threads = Threads()
    finished: list[str] = []

    def slow() -> None:
        time.sleep(0.2)
        finished.append("slow")

    async def main() -> None:
        call = asyncio.ensure_future(threads.run(slow))
        await asyncio.sleep(0.05)
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        assert finished == ["slow"]

    asyncio.run(main())
