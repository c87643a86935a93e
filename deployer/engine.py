"""What the scheduler asks of the machinery that runs containers.

`Engine` is the interface of the local engine (one dockerd, deployer/docker_engine.py): the
scheduler plans every rollout itself (deployer/planner.py) and asks the engine to start, watch
and stop the containers of single tasks. Containers carry labels (cais.owner, cais.task,
cais.container...) so that a restarted Cais finds its own containers and adopts them, and the
runtime names are derived from the task id, so that starting a task twice never makes two.

Engines that run rollouts themselves (Docker Swarm, Amazon ECS; Kubernetes would be a third)
plug in one level up, per cluster (deployer/bindings.py): they take a service's task definition
and deployment configuration as a whole and report deployments and tasks back in ECS terms,
instead of being driven task by task (deployer/external.py); the store, the API and what
retention keeps (deployer/retention.py) stay the same.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol


class EngineError(Exception):
    """A task could not be started; `reason` is ECS's prefix (CannotPullContainerError, ...)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason


@dataclass(frozen=True, slots=True)
class HealthSpec:
    command: list[str]
    interval: float
    timeout: float
    retries: int
    start_period: float


@dataclass(frozen=True, slots=True)
class ContainerSpec:
    name: str
    image: str  # what to pull: repository@digest when it is known
    essential: bool
    environment: dict[str, str]
    command: list[str] | None = None
    entrypoint: list[str] | None = None
    working_directory: str | None = None
    user: str | None = None
    cpu: int = 0
    memory: int | None = None  # MiB, hard limit
    memory_reservation: int | None = None
    health: HealthSpec | None = None
    stop_timeout: int = 30
    network_mode: str = "host"
    depends_on: list[tuple[str, str]] = field(default_factory=list)  # (container, condition)
    registry_auth: dict[str, str] | None = None


@dataclass(frozen=True, slots=True)
class TaskSpec:
    task_id: str
    labels: dict[str, str]
    containers: list[ContainerSpec]


@dataclass(frozen=True, slots=True)
class Observed:
    """One container of a task, as the engine sees it now."""

    task_id: str
    container: str
    runtime_id: str
    status: str  # created | running | exited | ...
    exit_code: int | None
    health: str  # HEALTHY | UNHEALTHY | UNKNOWN
    started_at: float | None
    image_digest: str | None
    error: str | None = None

    @property
    def running(self) -> bool:
        return self.status in ("running", "restarting", "paused")


@dataclass(frozen=True, slots=True)
class Usage:
    cpu_percent: float
    memory_bytes: int


class Engine(Protocol):
    def start(self, task: TaskSpec) -> dict[str, str]:
        """Pull, create and start the task's containers in dependency order (idempotent);
        returns the image digest each container runs. EngineError when it cannot."""
        ...

    def observe(self) -> list[Observed]:
        """Every container this Cais owns, running or not."""
        ...

    def stop(self, task_id: str, timeout: int) -> None:
        """Stop the task's containers (SIGTERM, then SIGKILL after `timeout` seconds)."""
        ...

    def remove(self, task_id: str) -> None:
        """Remove the task's containers (their exit codes are recorded by then)."""
        ...

    def usage(self, runtime_id: str) -> Usage | None:
        """CPU and memory a running container uses now (None when it is gone)."""
        ...

    def follow_logs(self, runtime_id: str, since: float) -> Iterator[tuple[float, str]]:
        """(time, line) of the container's output after `since`, following until it stops."""
        ...
