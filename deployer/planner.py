"""The rolling-update planner: a pure function of (service, deployments, tasks) -> actions.

ECS's rules, as its documentation states them:
- the service keeps at least ceil(desired x minimumHealthyPercent / 100) healthy tasks while
  it replaces them, and never has more than floor(desired x maximumPercent / 100) tasks that
  are not stopped (tasks on their way out count until they are stopped);
- a task is healthy when it is RUNNING and its health checks pass (or it has none); an
  unhealthy task is replaced once the health-check grace period after its start is over;
- the deployment circuit breaker fails a deployment whose failed tasks reach
  min(200, max(3, ceil(desired / 2))); with rollback, the service returns to the task
  definition of the last deployment that COMPLETED;
- a deployment COMPLETES when it runs the desired count of healthy tasks and no task of an
  older deployment is left.

When floor(desired x max%) <= ceil(desired x min%), no task may be started or stopped without
breaking a bound: ECS stays put then, and so does this planner (it says so in an event).
The reconciler applies the actions; tests/unit/test_planner.py checks the bounds by property.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

IN_PROGRESS, COMPLETED, FAILED = "IN_PROGRESS", "COMPLETED", "FAILED"
RUNNING, STOPPED = "RUNNING", "STOPPED"
HEALTHY, UNHEALTHY, UNKNOWN = "HEALTHY", "UNHEALTHY", "UNKNOWN"
FAILED_HEALTH = "Task failed container health checks"
SCALED_IN = "Scaling activity initiated by (deployment {deployment})"
REPLACED = "Scaling activity initiated by (deployment {deployment})"
DRAINED = "Container instance is being drained"


@dataclass(frozen=True, slots=True)
class ServiceSpec:
    desired: int
    minimum_healthy_percent: int = 100
    maximum_percent: int = 200
    breaker: bool = False
    rollback: bool = False
    grace_seconds: float = 0.0

    @property
    def min_healthy(self) -> int:
        return math.ceil(self.desired * self.minimum_healthy_percent / 100)

    @property
    def max_running(self) -> int:
        return math.floor(self.desired * self.maximum_percent / 100)

    @property
    def failure_threshold(self) -> int:
        return breaker_threshold(self.desired)


@dataclass(frozen=True, slots=True)
class DeploymentView:
    id: str
    primary: bool
    rollout: str = IN_PROGRESS
    failed_tasks: int = 0


@dataclass(frozen=True, slots=True)
class TaskView:
    id: str
    deployment: str
    last_status: str  # PROVISIONING | PENDING | ACTIVATING | RUNNING | ... | STOPPED
    desired_running: bool = True
    health: str = UNKNOWN
    checked: bool = False  # the task has health checks
    started_at: float | None = None
    draining: bool = False  # its container instance is DRAINING: replace it elsewhere

    @property
    def live(self) -> bool:
        return self.last_status != STOPPED

    @property
    def healthy(self) -> bool:
        passing = self.health == HEALTHY or (not self.checked and self.health != UNHEALTHY)
        return self.desired_running and self.last_status == RUNNING and passing


@dataclass(frozen=True, slots=True)
class Launch:
    deployment: str
    count: int


@dataclass(frozen=True, slots=True)
class Stop:
    task: str
    reason: str
    failed: bool = False  # counts against the deployment (circuit breaker)


@dataclass(frozen=True, slots=True)
class Settle:
    """The deployment's rolloutState moves to COMPLETED or FAILED."""

    deployment: str
    rollout: str
    reason: str


@dataclass(frozen=True, slots=True)
class Rollback:
    """Start a deployment of the last COMPLETED task definition, replacing `failed`."""

    failed: str


@dataclass(frozen=True, slots=True)
class Retire:
    """A deployment that is neither PRIMARY nor running anything becomes INACTIVE."""

    deployment: str


@dataclass(frozen=True, slots=True)
class Stuck:
    """The bounds leave no room to replace a task (an event tells the user why)."""

    message: str


Action = Launch | Stop | Settle | Rollback | Retire | Stuck


@dataclass(slots=True)
class Plan:
    actions: list[Action] = field(default_factory=list)

    def of(self, kind: type[Action]) -> list[Action]:
        return [action for action in self.actions if isinstance(action, kind)]


def breaker_threshold(desired: int) -> int:
    return min(200, max(3, math.ceil(desired / 2)))


def plan(
    spec: ServiceSpec,
    deployments: Sequence[DeploymentView],
    tasks: Sequence[TaskView],
    now: float,
    can_roll_back: bool = False,
) -> Plan:
    """What to do next; `can_roll_back`: a COMPLETED deployment exists to return to."""
    result = Plan()
    primary = next((d for d in deployments if d.primary), None)
    live = [task for task in tasks if task.live]
    stopping: set[str] = set()

    def stop(task: TaskView, reason: str, failed: bool = False) -> None:
        stopping.add(task.id)
        result.actions.append(Stop(task.id, reason, failed))

    for task in live:
        if task.desired_running and task.health == UNHEALTHY and _past_grace(task, spec, now):
            stop(task, FAILED_HEALTH, failed=True)
    if primary is None:
        for task in live:
            if task.desired_running and task.id not in stopping:
                stop(task, "Service is being deleted")
        return result

    failed_now = primary.failed_tasks + sum(1 for a in result.of(Stop) if isinstance(a, Stop) and _in(a, primary, live))
    rollout = primary.rollout
    if rollout == IN_PROGRESS and spec.breaker and failed_now >= spec.failure_threshold:
        reason = "ECS deployment circuit breaker: tasks failed to start."
        result.actions.append(Settle(primary.id, FAILED, reason))
        if spec.rollback and can_roll_back:
            result.actions.append(Rollback(primary.id))
            return result  # the next round plans against the new primary
        rollout = FAILED

    wanted = [t for t in live if t.desired_running and t.id not in stopping]
    new = [t for t in wanted if t.deployment == primary.id and not t.draining]
    old = [t for t in wanted if t.deployment != primary.id or t.draining]
    healthy = sum(1 for t in wanted if t.healthy)
    deployment = primary.id
    if rollout != FAILED:
        # Scale in: the primary's surplus, least useful first (not healthy, then the newest).
        surplus = sorted(new, key=_usefulness)[: max(0, len(new) - spec.desired)]
        for task in surplus:
            if not task.healthy or healthy - 1 >= spec.min_healthy:
                healthy -= task.healthy
                stop(task, SCALED_IN.format(deployment=deployment))
        # Old tasks that serve nothing go at once; healthy ones while the floor allows.
        for task in sorted(old, key=_usefulness):
            if not task.healthy or healthy - 1 >= spec.min_healthy:
                healthy -= task.healthy
                stop(task, DRAINED if task.draining else REPLACED.format(deployment=deployment))
        room = spec.max_running - len(live)
        need = spec.desired - len([t for t in new if t.id not in stopping])
        if need > 0 and room > 0:
            result.actions.append(Launch(primary.id, min(need, room)))
        elif need > 0 and not stopping and spec.max_running <= spec.min_healthy:
            result.actions.append(Stuck(_stuck_message(spec)))

    # Tasks stopped in this round still run until they are STOPPED: the rollout waits for them.
    remaining = [dataclasses.replace(t, desired_running=False) if t.id in stopping else t for t in live]
    if rollout == IN_PROGRESS and _complete(spec, primary, remaining):
        result.actions.append(Settle(primary.id, COMPLETED, f"ECS deployment {primary.id} completed."))
    for other in deployments:
        if not other.primary and not any(t.deployment == other.id for t in live):
            result.actions.append(Retire(other.id))
    return result


def _past_grace(task: TaskView, spec: ServiceSpec, now: float) -> bool:
    return task.started_at is not None and now >= task.started_at + spec.grace_seconds


def _in(action: Stop, deployment: DeploymentView, tasks: Sequence[TaskView]) -> bool:
    return any(t.id == action.task and t.deployment == deployment.id for t in tasks)


def _usefulness(task: TaskView) -> tuple[bool, bool, float]:
    """Sort key: tasks that serve least (not healthy, not running, started last) first."""
    return (task.healthy, task.last_status == RUNNING, -(task.started_at or math.inf))


def _complete(spec: ServiceSpec, primary: DeploymentView, remaining: Sequence[TaskView]) -> bool:
    mine = [t for t in remaining if t.deployment == primary.id and t.desired_running and not t.draining]
    others = [t for t in remaining if t.deployment != primary.id or t.draining or not t.desired_running]
    return not others and len(mine) == spec.desired and all(t.healthy for t in mine)


def _stuck_message(spec: ServiceSpec) -> str:
    return (
        f"cannot replace tasks: with minimumHealthyPercent {spec.minimum_healthy_percent} and maximumPercent "
        f"{spec.maximum_percent}, no task of the {spec.desired} desired may be started or stopped"
    )
