"""Following a rollout that an external engine runs: a pure function of (Cais's deployments, the
refs they were handed over with, what the engine reports) -> the planner's actions (Settle,
Rollback, Retire, Stuck), which records.apply writes as it does for the local engine (events,
steady state, the rollback deployment).

- The PRIMARY deployment settles as the engine's rollout of its ref does: COMPLETED or FAILED.
- When the engine has moved on to another rollout while Cais's PRIMARY was still in progress,
  and it says it rolled back (or that rollout FAILED), the PRIMARY FAILED and the engine's
  rollout is the rollback: Cais records a rollback deployment that *adopts* it (its ref is the
  engine's) instead of handing over another rollout. Anything else the engine runs was changed
  outside Cais, which an event says.
- A deployment that is neither PRIMARY nor running anything retires (INACTIVE), as ECS's do.
- Tasks belong to the deployment handed over with their ref, the PRIMARY one when a rollback
  adopted the ref of an older deployment.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from . import planner
from .external import COMPLETED, FAILED, RemoteTask, ServiceView
from .planner import DeploymentView


@dataclass(frozen=True, slots=True)
class Followed:
    actions: list[planner.Action] = field(default_factory=list)
    adopt: str | None = None  # the ref of the engine's own rollback, for the rollback deployment
    failed: dict[str, int] = field(default_factory=dict)  # failed tasks by deployment, as the engine counts


def owners(tasks: Sequence[RemoteTask], deployments: Sequence[DeploymentView], refs: dict[str, str]) -> dict[str, str]:
    """task id -> the Cais deployment it belongs to (tasks of no known deployment are left out)."""
    found = {}
    for task in tasks:
        if task.ref is None:
            continue
        handed = [d for d in deployments if refs.get(d.id) == task.ref] or [d for d in deployments if d.id == task.ref]
        if handed:
            found[task.id] = next((d for d in handed if d.primary), handed[0]).id
    return found


def follow(
    deployments: Sequence[DeploymentView],
    refs: dict[str, str],
    view: ServiceView,
    live: dict[str, int],
    rollback: bool,
    can_roll_back: bool,
) -> Followed:
    """`live`: live tasks by deployment; `rollback`: the circuit breaker rolls back."""
    primary = next((d for d in deployments if d.primary), None)
    actions: list[planner.Action] = []
    adopt = None
    failed = {
        d.id: rollout.failed
        for d in deployments
        if d.id in refs and (rollout := view.rollout(refs[d.id])) is not None and rollout.failed != d.failed_tasks
    }
    if primary is not None and primary.rollout == planner.IN_PROGRESS and primary.id in refs:
        ref = refs[primary.id]
        mine, theirs = view.rollout(ref), view.primary
        if theirs is not None and theirs.ref == ref:
            if theirs.state == COMPLETED:
                actions.append(planner.Settle(primary.id, COMPLETED, f"ECS deployment {primary.id} completed."))
            elif theirs.state == FAILED:
                actions.append(planner.Settle(primary.id, FAILED, theirs.reason or "the engine failed the deployment"))
        elif theirs is not None:
            if (mine is not None and mine.state == FAILED) or view.rolled_back:
                reason = (mine.reason if mine is not None and mine.reason else view.rolled_back) or "rolled back"
                actions.append(planner.Settle(primary.id, FAILED, reason))
                if rollback and can_roll_back:
                    actions.append(planner.Rollback(primary.id))
                    adopt = theirs.ref
            else:
                message = f"runs {theirs.ref} on its engine, not deployment {primary.id}: changed outside Cais?"
                actions.append(planner.Stuck(message))
    if primary is None or primary.id in refs:
        actions += [planner.Retire(d.id) for d in deployments if not d.primary and not live.get(d.id)]
    return Followed(actions, adopt, failed)
