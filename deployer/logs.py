"""Container output kept per task and container, bounded and rotated: one file of at most
[deployer] log_bytes plus the previous one (`.1`), under <data_dir>/deployer/logs/<task id>/.
Each line is `<UNIX time in ms> <text>`, so that readers (`cais logs`, the CloudWatch Logs API)
page by time without parsing the text."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

log = logging.getLogger("cais.deployer.logs")


@dataclass(frozen=True, slots=True)
class Line:
    timestamp: int  # ms
    message: str


class LogFiles:
    def __init__(self, root: str, max_bytes: int) -> None:
        self.root, self.max_bytes = root, max_bytes
        self._lock = threading.Lock()

    def path(self, task_id: str, container: str) -> str:
        return os.path.join(self.root, task_id, f"{container}.log")

    def append(self, task_id: str, container: str, lines: list[tuple[float, str]]) -> None:
        path = self.path(task_id, container)
        with self._lock:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            if os.path.exists(path) and os.path.getsize(path) >= self.max_bytes:
                os.replace(path, path + ".1")
            with open(path, "a", encoding="utf-8") as file:
                file.writelines(f"{int(when * 1000)} {text}\n" for when, text in lines)

    def last_time(self, task_id: str, container: str) -> float:
        """When the last kept line was written (0: none), where collection resumes."""
        last = 0.0
        for line in self.read(task_id, container):
            last = line.timestamp / 1000
        return last

    def read(self, task_id: str, container: str) -> Iterator[Line]:
        path = self.path(task_id, container)
        for name in (path + ".1", path):
            try:
                with open(name, encoding="utf-8", errors="replace") as file:
                    for raw in file:
                        stamp, _, text = raw.rstrip("\n").partition(" ")
                        if stamp.isdigit():
                            yield Line(int(stamp), text)
            except FileNotFoundError:
                continue

    def remove(self, task_id: str) -> None:
        directory = os.path.join(self.root, task_id)
        for name in os.listdir(directory) if os.path.isdir(directory) else []:
            os.unlink(os.path.join(directory, name))
        if os.path.isdir(directory):
            os.rmdir(directory)


class Collector:
    """One thread per running container, copying its output into the task's log file; it
    resumes after the last line kept, so a restarted Cais neither loses nor repeats lines.
    Threads of their own, not the process's worker threads: a follower lives as long as its
    container, and a few dozen of them would hold every worker thread."""

    def __init__(self, files: LogFiles, follow: Callable[[str, float], Iterator[tuple[float, str]]]) -> None:
        self.files, self._follow = files, follow
        self._threads: dict[str, threading.Thread] = {}

    def watch(self, task_id: str, container: str, runtime_id: str) -> None:
        for finished in [key for key, thread in self._threads.items() if not thread.is_alive()]:
            del self._threads[finished]
        if runtime_id in self._threads:
            return
        thread = threading.Thread(
            target=self._copy, args=(task_id, container, runtime_id), name=f"logs-{task_id[:8]}", daemon=True
        )
        self._threads[runtime_id] = thread
        thread.start()

    def _copy(self, task_id: str, container: str, runtime_id: str) -> None:
        since = self.files.last_time(task_id, container)
        try:
            for line in self._follow(runtime_id, since):
                self.files.append(task_id, container, [line])  # at once: `cais logs --follow` shows it
        except Exception as exc:  # the container went away: nothing more to copy
            log.debug("log collection of %s ended: %s", runtime_id, exc)


def log_files(data_dir: str, max_bytes: int) -> LogFiles:
    return LogFiles(os.path.join(data_dir, "deployer", "logs"), max_bytes)


def merged(sources: list[tuple[str, Iterator[Line]]]) -> list[tuple[str, Line]]:
    """Lines of several streams in time order (stable within a stream)."""
    found = [(name, line) for name, lines in sources for line in lines]
    return sorted(found, key=lambda pair: pair[1].timestamp)
