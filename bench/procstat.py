"""What a server costs, read from /proc: CPU seconds of its whole process tree (every worker,
every thread) and each process's peak resident memory (VmHWM, which we can reset)."""

from __future__ import annotations

import contextlib
import os

_TICKS = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int) -> list[str]:
    with open(f"/proc/{pid}/stat") as f:
        # The command name may hold spaces and parentheses: fields start after the last ')'.
        return f.read().rsplit(")", 1)[1].split()


def process_tree(root: int) -> list[int]:
    """`root` and all its descendants."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                parent = int(_stat_fields(int(entry))[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo += children.get(pid, [])
    return tree


def cpu_seconds(pids: list[int]) -> float:
    """User + system time of the processes (all threads); vanished processes count as zero."""
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = _stat_fields(pid)
            total += int(fields[11]) + int(fields[12])
    return total / _TICKS


def reset_peak_rss(pids: list[int]) -> None:
    """Start VmHWM afresh (writing 5 to clear_refs), so the next reading is this workload's peak."""
    for pid in pids:
        with contextlib.suppress(OSError), open(f"/proc/{pid}/clear_refs", "w") as f:
            f.write("5")


def peak_rss(pids: list[int]) -> dict[int, int]:
    """Peak resident bytes of each process since the last reset."""
    peaks = {}
    for pid in pids:
        with contextlib.suppress(OSError), open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    peaks[pid] = int(line.split()[1]) * 1024
    return peaks
