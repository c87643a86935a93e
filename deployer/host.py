"""This machine as a container instance registers it: its name, CPU units (1024 per core) and
memory (MiB), or what [deployer] cpu and memory say instead."""

from __future__ import annotations

import os
import socket

from .store import Host


def _memory_mib() -> int:
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) // 1024
    except OSError:
        pass
    return 1024


def this_host(cpu: int = 0, memory: int = 0) -> Host:
    return Host(socket.gethostname(), cpu or (os.cpu_count() or 1) * 1024, memory or _memory_mib())
