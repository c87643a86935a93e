"""Who holds a lease: this process, named so that another process can tell whether it is alive.

A holder is ``<hostname>/<pid namespace>/<pid>/<start time>``. The pid namespace is the kernel's
boot id with the inode of /proc/self/ns/pid: two processes that share it see the same pids (the
same machine and container), so one can look the other up in /proc, and the start time (in
clock ticks since boot) tells a reused pid from the holder. A holder in another namespace (a
replica elsewhere) cannot be checked: its lease runs until it expires, which is why leases are
short and renewed often.
"""

from __future__ import annotations

import functools
import os
import socket


def _read(path: str) -> str | None:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


def _start_time(pid: int) -> str | None:
    """When the process started, None if there is no such process (a zombie is none either)."""
    stat = _read(f"/proc/{pid}/stat")
    if stat is None:
        return None
    # The command name (field 2) may hold spaces and parentheses: count fields after its end.
    fields = stat[stat.rindex(")") + 2 :].split()
    return None if fields[0] in ("Z", "X") else fields[19]


@functools.cache
def _namespace() -> str | None:
    boot = _read("/proc/sys/kernel/random/boot_id")
    try:
        pid_namespace = os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        return None
    return f"{boot.strip()}:{pid_namespace}" if boot else None


def this_process() -> str:
    pid = os.getpid()  # not cached: a forked child is another holder
    return f"{socket.gethostname()[:64]}/{_namespace() or 'unknown'}/{pid}/{_start_time(pid) or 0}"


def is_gone(holder: str) -> bool:
    """Whether the process named `holder` has certainly ended (False when it cannot be told)."""
    parts = holder.rsplit("/", 3)
    if len(parts) != 4 or _namespace() is None or parts[1] != _namespace() or not parts[2].isdigit():
        return False
    return _start_time(int(parts[2])) != parts[3]
