"""Placement by resources, as ECS decides it for the EC2 launch type: a task fits a container
instance when its CPU units, its memory and its host ports are free there. The reasons are
ECS's own (`RESOURCE:CPU`, `RESOURCE:MEMORY`, `RESOURCE:PORTS`, ...), as RunTask's failures
and the service events report them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Needs:
    cpu: int  # CPU units (1024 per core); 0: no reservation
    memory: int  # MiB (hard limit or soft reservation, whichever the task reserves)
    ports: frozenset[int] = frozenset()  # fixed host ports the task wants


@dataclass(frozen=True, slots=True)
class Instance:
    id: str
    active: bool  # ACTIVE (DRAINING instances take no new task)
    cpu: int
    memory: int
    used_cpu: int = 0
    used_memory: int = 0
    used_ports: frozenset[int] = frozenset()

    @property
    def free_cpu(self) -> int:
        return self.cpu - self.used_cpu

    @property
    def free_memory(self) -> int:
        return self.memory - self.used_memory


@dataclass(frozen=True, slots=True)
class Placed:
    instance: str


@dataclass(frozen=True, slots=True)
class Unplaced:
    reason: str  # RESOURCE:MEMORY, ...
    closest: str | None  # the instance that came closest, for the service event


def shortfall(needs: Needs, instance: Instance) -> str | None:
    """Why `needs` does not fit on `instance` (None: it fits)."""
    if not instance.active:
        return "RESOURCE:STATUS"
    if needs.cpu > instance.free_cpu:
        return "RESOURCE:CPU"
    if needs.memory > instance.free_memory:
        return "RESOURCE:MEMORY"
    if needs.ports & instance.used_ports:
        return "RESOURCE:PORTS"
    return None


def place(needs: Needs, instances: Sequence[Instance]) -> Placed | Unplaced:
    """The instance with the most free memory that fits (ECS's binpack spreads the other way;
    on one host it does not matter), or the reason of the one that came closest."""
    if not instances:
        return Unplaced("MISSING", None)
    reasons = [(shortfall(needs, instance), instance) for instance in instances]
    fitting = [instance for reason, instance in reasons if reason is None]
    if fitting:
        return Placed(max(fitting, key=lambda i: (i.free_memory, i.free_cpu)).id)
    reason, closest = max(reasons, key=lambda pair: (pair[1].active, pair[1].free_memory))
    return Unplaced(reason or "RESOURCE:MEMORY", closest.id)


def event_text(reason: str) -> str:
    """The words ECS's service event uses for a reason."""
    return {
        "RESOURCE:CPU": "insufficient CPU units available",
        "RESOURCE:MEMORY": "insufficient memory available",
        "RESOURCE:PORTS": "the ports required are already in use",
        "RESOURCE:STATUS": "it is not ACTIVE",
    }.get(reason, "no container instance is registered")
