"""The deployer's settings, as plain values (registry/config.py reads them from [deployer])."""

from __future__ import annotations

from dataclasses import dataclass

from .arns import Arns


@dataclass(frozen=True, slots=True)
class Options:
    arns: Arns
    data_dir: str
    docker_host: str | None = None  # None: DOCKER_HOST or the default socket
    interval: float = 1.0  # seconds between two reconciliations
    lease: float = 15.0  # a scheduler that stops renewing its lease is replaced after this
    drain: float = 2.0  # a task leaves its service proxy this long before it is stopped
    port_range: tuple[int, int] = (20000, 29999)  # host ports handed to tasks
    cpu: int = 0  # CPU units this host registers (0: 1024 per core)
    memory: int = 0  # MiB this host registers (0: what docker reports)
    log_bytes: int = 1 << 20  # per container log file; one rotated file is kept beside it
    stopped_ttl: float = 3600.0  # STOPPED tasks stay visible this long, as in ECS
    registry_hosts: tuple[str, ...] = ()  # addresses of this registry in image references
    engine_interval: float = 5.0  # seconds between two looks at each cluster bound to an external engine
    rollback_targets: int = 3  # COMPLETED deployments per service whose images retention keeps
