"""Properties of the rolling-update planner, in a simulated world where tasks of a good revision
become healthy and tasks of a bad one fail (crash or fail their health checks)."""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass, field

from hypothesis import given, settings
from hypothesis import strategies as st

from deployer.planner import (
    COMPLETED,
    FAILED,
    HEALTHY,
    IN_PROGRESS,
    UNHEALTHY,
    DeploymentView,
    Launch,
    Plan,
    Retire,
    Rollback,
    ServiceSpec,
    Settle,
    Stop,
    Stuck,
    TaskView,
    breaker_threshold,
    plan,
)

_ids = itertools.count()


@dataclass
class World:
    spec: ServiceSpec
    good: dict[str, bool]  # deployment -> its revision works
    revision: dict[str, str]  # deployment -> task definition
    deployments: list[DeploymentView]
    tasks: list[TaskView] = field(default_factory=list)
    completed: list[str] = field(default_factory=list)  # task definitions that completed, in order
    crash: bool = True  # bad tasks crash (else they fail health checks)
    now: float = 0.0

    @property
    def primary(self) -> DeploymentView:
        return next(d for d in self.deployments if d.primary)

    def deploy(self, revision: str, good: bool) -> None:
        new = DeploymentView(f"d{next(_ids)}", primary=True)
        self.deployments = [dataclasses.replace(d, primary=False) for d in self.deployments] + [new]
        self.good[new.id], self.revision[new.id] = good, revision

    def count_failure(self, deployment: str) -> None:
        self.deployments = [
            dataclasses.replace(d, failed_tasks=d.failed_tasks + 1) if d.id == deployment else d
            for d in self.deployments
        ]

    def apply(self, result: Plan) -> None:
        by_id = {t.id: t for t in self.tasks}
        for action in result.actions:
            if isinstance(action, Stop):
                by_id[action.task] = dataclasses.replace(by_id[action.task], desired_running=False)
                if action.failed:
                    self.count_failure(by_id[action.task].deployment)
            elif isinstance(action, Launch):
                for _ in range(action.count):
                    task = TaskView(f"t{next(_ids)}", action.deployment, "PENDING", checked=True)
                    by_id[task.id] = task
            elif isinstance(action, Settle):
                self.deployments = [
                    dataclasses.replace(d, rollout=action.rollout) if d.id == action.deployment else d
                    for d in self.deployments
                ]
                if action.rollout == COMPLETED:
                    self.completed.append(self.revision[action.deployment])
            elif isinstance(action, Rollback):
                self.deploy(self.completed[-1], good=True)
            elif isinstance(action, Retire):
                self.deployments = [d for d in self.deployments if d.id != action.deployment]
        self.tasks = list(by_id.values())

    def advance(self) -> None:
        """The containers' side: stopping tasks stop, pending ones start (and may fail)."""
        self.now += 1
        moved = []
        for task in self.tasks:
            if task.last_status == "STOPPED":
                continue
            if not task.desired_running:
                task = dataclasses.replace(task, last_status="STOPPED")
            elif task.last_status == "PENDING":
                good = self.good[task.deployment]
                if not good and self.crash:
                    self.count_failure(task.deployment)
                    task = dataclasses.replace(task, last_status="STOPPED")
                else:
                    health = HEALTHY if good else UNHEALTHY
                    task = dataclasses.replace(task, last_status="RUNNING", health=health, started_at=self.now)
            moved.append(task)
        self.tasks = moved


def _healthy(world: World) -> int:
    return sum(1 for t in world.tasks if t.live and t.healthy)


def _live(world: World) -> int:
    return sum(1 for t in world.tasks if t.live)


specs = st.builds(
    ServiceSpec,
    desired=st.integers(0, 8),
    minimum_healthy_percent=st.sampled_from([0, 25, 50, 75, 100]),
    maximum_percent=st.sampled_from([100, 125, 150, 200]),
    breaker=st.booleans(),
    rollback=st.booleans(),
)


def _feasible(spec: ServiceSpec) -> bool:
    return spec.desired == 0 or spec.max_running > spec.min_healthy


def _step(world: World) -> Plan:
    healthy_before, live_before = _healthy(world), _live(world)
    result = plan(world.spec, world.deployments, world.tasks, world.now, can_roll_back=bool(world.completed))
    launched = sum(a.count for a in result.actions if isinstance(a, Launch))
    assert live_before + launched <= max(world.spec.max_running, live_before), result
    world.apply(result)
    # The planner's stops never take the healthy count below the floor (or below where it was).
    assert _healthy(world) >= min(world.spec.min_healthy, healthy_before), result
    world.advance()
    return result


def _run_until_settled(world: World, steps: int = 80) -> None:
    for _ in range(steps):
        _step(world)
        others = [d for d in world.deployments if not d.primary]
        if world.primary.rollout == FAILED or (world.primary.rollout == COMPLETED and not others):
            return
    raise AssertionError(f"no progress: {world.primary} {world.tasks}")


@settings(max_examples=80, deadline=None)
@given(spec=specs.filter(_feasible), second_good=st.booleans(), crash=st.booleans())
def test_rollouts_respect_the_bounds_and_finish(spec: ServiceSpec, second_good: bool, crash: bool) -> None:
    world = World(spec, {}, {}, [], crash=crash)
    world.deploy("app:1", good=True)
    _run_until_settled(world)
    assert world.primary.rollout == COMPLETED
    assert sum(1 for t in world.tasks if t.live and t.healthy) == spec.desired
    world.deploy("app:2", good=second_good)
    if not second_good and not spec.breaker and spec.desired > 0:
        return  # without the breaker ECS keeps trying a broken revision forever
    _run_until_settled(world)
    if second_good or spec.desired == 0:
        assert world.primary.rollout == COMPLETED
        assert world.completed[-1] == "app:2"
    elif spec.rollback:
        # Rolled back to the last COMPLETED revision, which runs again.
        assert world.revision[world.primary.id] == "app:1" and world.primary.rollout == COMPLETED
        assert world.completed[-1] == "app:1"
    else:
        assert world.primary.rollout == FAILED


@settings(max_examples=40, deadline=None)
@given(desired=st.integers(1, 500), failed=st.integers(0, 300))
def test_circuit_breaker_threshold(desired: int, failed: int) -> None:
    threshold = breaker_threshold(desired)
    assert 3 <= threshold <= 200
    assert threshold == min(200, max(3, -(-desired // 2)))
    spec = ServiceSpec(desired=desired, breaker=True)
    result = plan(spec, [DeploymentView("d", True, IN_PROGRESS, failed)], [], 0.0)
    assert bool([a for a in result.actions if isinstance(a, Settle) and a.rollout == FAILED]) == (failed >= threshold)


def test_unhealthy_tasks_wait_for_the_grace_period() -> None:
    spec = ServiceSpec(desired=1, grace_seconds=30)
    task = TaskView("t", "d", "RUNNING", health=UNHEALTHY, checked=True, started_at=100.0)
    deployments = [DeploymentView("d", True)]
    assert not plan(spec, deployments, [task], 120.0).of(Stop)
    assert plan(spec, deployments, [task], 131.0).of(Stop) == [Stop("t", "Task failed container health checks", True)]


def test_no_room_is_reported() -> None:
    spec = ServiceSpec(desired=1, minimum_healthy_percent=100, maximum_percent=100)
    old = TaskView("t", "old", "RUNNING", health=HEALTHY, checked=True, started_at=0.0)
    result = plan(spec, [DeploymentView("old", False, COMPLETED), DeploymentView("new", True)], [old], 1.0)
    assert result.of(Stuck) and not result.of(Stop) and not result.of(Launch)
