"""Host ports for tasks. Containers share the host's network, so two tasks of one service
cannot both listen on the port their task definition names: each task gets, for every port
mapping, a host port of its own from [deployer] ports, which it reads from its environment
(`PORT` for the first mapping, `PORT_<containerPort>` for each). The service proxy listens on
the containerPort and forwards to those host ports (deployer/proxy.py)."""

from __future__ import annotations

import random
import socket
from typing import Any


def _free(port: int) -> bool:
    """Whether nothing on this host listens on `port` (on loopback, where tasks are reached)."""
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def assign(
    containers: list[dict[str, Any]], taken: set[int], port_range: tuple[int, int]
) -> dict[str, dict[str, int]] | None:
    """{container: {containerPort: hostPort}} for every port mapping; None when the range is full."""
    low, high = port_range
    candidates = list(range(low, high + 1))
    random.shuffle(candidates)  # two schedulers racing (a lease handover) rarely pick the same port
    pool = (port for port in candidates if port not in taken and _free(port))
    assigned: dict[str, dict[str, int]] = {}
    for container in containers:
        for mapping in container.get("portMappings", []):
            port = next(pool, None)
            if port is None:
                return None
            assigned.setdefault(container["name"], {})[str(mapping["containerPort"])] = port
    return assigned


def environment(assigned: dict[str, int]) -> dict[str, str]:
    """The variables a container reads its host ports from."""
    env = {f"PORT_{container_port}": str(host_port) for container_port, host_port in assigned.items()}
    if assigned:
        env["PORT"] = str(next(iter(assigned.values())))
    return env
