"""How a deployment's rollout goes: after each scheduling round that changed a deployment in
progress (tasks started or stopped, tasks that came up or failed, the rollout settling), one
step with what happened and the task counts, recorded in the round's transaction (deployment
histories, `cais deploy history`, show them); and how a deployment ended, in ECS's words."""

from __future__ import annotations

from sqlalchemy import Connection

from storage.metadata import ecs_services as services
from storage.metadata import ecs_tasks as tasks
from storage.metadata.ecs_services import DeploymentRow
from storage.metadata.ecs_tasks import TaskRow

from . import planner


def deployment_status(row: DeploymentRow, rollback: DeploymentRow | None) -> str:
    """ECS's ServiceDeployment status: a deployment the circuit breaker rolled back carries the
    rollback's progress (the rollback is part of its story, not a deployment of its own)."""
    if rollback is not None:
        return {"IN_PROGRESS": "ROLLBACK_IN_PROGRESS", "COMPLETED": "ROLLBACK_SUCCESSFUL"}.get(
            rollback.rollout_state, "ROLLBACK_FAILED"
        )
    if row.rollout_state == "COMPLETED":
        return "SUCCESSFUL"
    if row.rollout_state == "IN_PROGRESS" and not row.stopped:
        return "IN_PROGRESS"
    return "STOPPED"


def counts(deployment: DeploymentRow, desired: int, live: list[TaskRow]) -> dict[str, int]:
    mine = [t for t in live if t.deployment_id == deployment.id and t.desired_status == "RUNNING"]
    running = sum(1 for t in mine if t.last_status == "RUNNING")
    return {
        "desired": desired,
        "running": running,
        "pending": len(mine) - running,
        "old": sum(1 for t in live if t.deployment_id != deployment.id and t.desired_status == "RUNNING"),
        "stopping": sum(1 for t in live if t.desired_status == "STOPPED"),
        "failed": deployment.failed_tasks,
    }


def describe(deployment: str, actions: list[planner.Action], found: dict[str, int]) -> str:
    """What the round did to the deployment, then where its tasks stand."""
    done = []
    started = sum(a.count for a in actions if isinstance(a, planner.Launch) and a.deployment == deployment)
    if started:
        done.append(f"started {started} task{'s' if started > 1 else ''}")
    stops = [a for a in actions if isinstance(a, planner.Stop)]
    failed = sum(1 for a in stops if a.failed)
    if failed:
        done.append(f"{failed} failed task{'s' if failed > 1 else ''} stopped ({stops[0].reason})")
    if len(stops) > failed:
        done.append(f"stopped {len(stops) - failed} task{'s' if len(stops) - failed > 1 else ''}")
    for action in actions:
        if isinstance(action, planner.Settle) and action.deployment == deployment:
            done.append(f"rollout {action.rollout}: {action.reason}")
        elif isinstance(action, planner.Rollback) and action.failed == deployment:
            done.append("rolling back")
    where = f"{found['running']}/{found['desired']} running, {found['pending']} pending, {found['old']} old"
    return "; ".join([*done, where])


def record(conn: Connection, service_id: int, actions: list[planner.Action]) -> None:
    """A step for each deployment in progress (or settled by `actions`) whose counts changed or
    that the round acted on."""
    service = services.by_id(conn, service_id)
    live = tasks.of_service(conn, service_id)
    settled = {a.deployment for a in actions if isinstance(a, planner.Settle)}
    for deployment in services.deployments(conn, service_id):
        in_progress = deployment.status == "PRIMARY" and deployment.rollout_state == "IN_PROGRESS"
        if not in_progress and deployment.id not in settled:
            continue
        found = counts(deployment, service.desired_count, live)
        acted = deployment.id in settled or any(
            isinstance(a, planner.Launch) and a.deployment == deployment.id for a in actions
        )
        last = services.last_step(conn, deployment.id)
        if acted or last is None or last.counts != found:
            services.add_step(conn, deployment.id, describe(deployment.id, actions, found), found)
