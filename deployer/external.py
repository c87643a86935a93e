"""What Cais asks of an engine that runs rollouts itself (Docker Swarm, Amazon ECS; Kubernetes
would be a third, see the README): the cluster's services are handed over as a whole.

    Cais (store, API, deploy rules)          the engine
    PRIMARY deployment D, not yet handed  -> deploy(spec of D)      -> returns D's ref
    desired count, rollout settings       -> scale(spec, view)         (no new rollout)
    every round                           <- observe(): rollouts and tasks in ECS terms
    DeleteService                         -> delete()

A deployment's `ref` is the engine's name for it (Swarm: the Cais deployment id, kept in the
service's labels; Amazon ECS: its own deployment id). Cais keeps each deployment's ref
(storage/metadata/ecs_engines.py), follows the rollouts by ref (deployer/following.py), and
mirrors the engine's tasks into its own task rows, so that DescribeServices, ListTasks and the
queries of what runs (retention) read the same rows whatever runs the containers.

`deploy` is idempotent: called again for the same deployment (a crash after the engine took it
but before Cais recorded the ref) it returns the same ref without a second rollout.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

PRIMARY, ACTIVE = "PRIMARY", "ACTIVE"
IN_PROGRESS, COMPLETED, FAILED = "IN_PROGRESS", "COMPLETED", "FAILED"


class EngineUnavailable(Exception):
    """The engine could not be reached or refused a call; the round tries again later."""

    def __init__(self, message: str) -> None:
        super().__init__(message if len(message) <= 300 else message[:299] + "…")


@dataclass(frozen=True, slots=True)
class ServiceKey:
    cluster: str  # the Cais cluster
    service: str


@dataclass(frozen=True, slots=True)
class ServiceSpec:
    """One deployment of a service, as the engine is to run it."""

    key: ServiceKey
    deployment: str  # the Cais deployment id
    family: str
    revision: int
    definition: dict[str, Any]  # the task definition, images of this registry pinned by digest
    desired: int
    config: dict[str, Any]  # deploymentConfiguration
    grace: float  # healthCheckGracePeriodSeconds


@dataclass(frozen=True, slots=True)
class Rollout:
    """One deployment as the engine reports it."""

    ref: str
    status: str  # PRIMARY | ACTIVE
    state: str  # IN_PROGRESS | COMPLETED | FAILED
    reason: str = ""
    failed: int = 0  # tasks of this deployment that failed


@dataclass(frozen=True, slots=True)
class RemoteContainer:
    name: str
    last_status: str  # PENDING | RUNNING | STOPPED
    health: str = "UNKNOWN"
    image_digest: str | None = None
    runtime_id: str | None = None
    exit_code: int | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class RemoteTask:
    id: str  # 32 characters, the Cais task id
    ref: str | None  # the deployment it belongs to
    last_status: str  # PROVISIONING | PENDING | RUNNING | STOPPED
    desired_status: str  # RUNNING | STOPPED
    health: str
    created_at: float
    started_at: float | None = None
    stopped_at: float | None = None
    stopped_reason: str | None = None
    stop_code: str | None = None
    containers: tuple[RemoteContainer, ...] = ()
    waiting: str | None = None  # why a task that is not running yet waits (no node can take it...)


@dataclass(frozen=True, slots=True)
class ServiceView:
    rollouts: list[Rollout]  # the PRIMARY first
    tasks: list[RemoteTask]
    desired: int
    rolled_back: str | None = None  # the engine rolled its latest update back, and why
    raw: Any = None  # the engine's own description, for its scale()

    @property
    def primary(self) -> Rollout | None:
        return next((r for r in self.rollouts if r.status == PRIMARY), None)

    def rollout(self, ref: str) -> Rollout | None:
        return next((r for r in self.rollouts if r.ref == ref), None)


class ExternalEngine(Protocol):
    kind: str  # swarm | ecs

    def observe(self, key: ServiceKey) -> ServiceView | None:
        """The service as the engine runs it; None when the engine has no such service."""
        ...

    def deploy(self, spec: ServiceSpec) -> str:
        """Create the service or start a rollout to `spec`; the deployment's ref."""
        ...

    def scale(self, spec: ServiceSpec, view: ServiceView) -> None:
        """Bring the desired count and rollout settings of the running deployment in line with
        `spec` when they differ, without starting a rollout."""
        ...

    def delete(self, key: ServiceKey) -> None:
        """Remove the service (its tasks stop)."""
        ...
