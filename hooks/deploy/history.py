"""A service's deployment history, one timeline per deployment (`cais deploy history` and
/api/v1/deploy-history): for a push a rule took up, who pushed which digest, the scan and the
gate's decision, the revision registered, the rollout's steps with task counts (recorded by the
deployer), the outcome, the rollback and the tag revert; for deployments made otherwise
(UpdateService, `cais deploy update`), the revision and the rollout."""

from __future__ import annotations

from typing import Any

from deployer.errors import ClusterNotFound, ServiceNotFound
from deployer.progress import deployment_status
from storage.metadata import deploy_runs, ecs_clusters, ecs_services, ecs_taskdefs
from storage.metadata.deploy_runs import RunRow
from storage.metadata.ecs_services import DeploymentRow, StepRow
from storage.metadata.engine import Database


def _step(at: float, step: str, message: str, counts: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"at": at, "step": step, "message": message, **({"counts": counts} if counts else {})}


def _rollout(steps: list[StepRow], deployment: str | None, step: str) -> list[dict[str, Any]]:
    return [_step(s.at, step, s.message, s.counts) for s in steps if s.deployment_id == deployment]


def _of_run(run: RunRow, steps: list[dict[str, Any]], rollout: list[StepRow]) -> dict[str, Any]:
    doc = run.doc
    rollback = doc.get("rollback")
    timeline = steps + _rollout(rollout, run.deployment_id, "rollout") + _rollout(rollout, rollback, "rollback")
    return {
        "run": run.id,
        "rule": run.rule,
        "state": run.state,
        "reason": run.reason,
        "repository": run.repository,
        "tag": run.tag,
        "digest": run.digest,
        "pushedBy": doc.get("pushedBy"),
        "pushedAt": doc.get("pushedAt"),
        "scan": doc.get("gate"),
        "taskDefinition": doc.get("taskDefinition"),
        "image": doc.get("image"),
        "deployment": run.deployment_id,
        "rollback": rollback,
        "tagRevertedTo": doc.get("revertedTo"),
        "createdAt": run.created_at,
        "finishedAt": run.finished_at,
        "steps": sorted(timeline, key=lambda item: item["at"]),
    }


def _of_deployment(
    row: DeploymentRow, everything: list[DeploymentRow], revision: str, rollout: list[StepRow]
) -> dict[str, Any]:
    rollback = next((d for d in everything if d.rollback_of == row.id), None)
    return {
        "run": None,
        "rule": None,
        "state": deployment_status(row, rollback),
        "reason": row.rollout_reason,
        "taskDefinition": revision,
        "deployment": row.id,
        "rollbackOf": row.rollback_of,
        "createdAt": row.created_at,
        "finishedAt": row.finished_at,
        "steps": _rollout(rollout, row.id, "rollout"),
    }


def timelines(db: Database, cluster: str, service: str, limit: int = 20) -> list[dict[str, Any]]:
    """The service's last `limit` deployments, newest first (ClusterNotFound, ServiceNotFound)."""
    with db.read() as conn:
        found = ecs_clusters.find(conn, cluster)
        if found is None:
            raise ClusterNotFound()
        row = ecs_services.find(conn, found.id, service)
        if row is None:
            raise ServiceNotFound()
        runs = deploy_runs.of_service(conn, cluster, service)
        deployments = ecs_services.deployments(conn, row.id, include_inactive=True)
        linked = {run.deployment_id for run in runs} | {run.doc.get("rollback") for run in runs}
        alone = [d for d in deployments if d.id not in linked]
        both: list[RunRow | DeploymentRow] = [*runs, *alone]
        newest = sorted(both, key=lambda item: -item.created_at)[:limit]
        kept = [item for item in newest if isinstance(item, RunRow)]
        steps = deploy_runs.steps_of(conn, [run.id for run in kept])
        rollout = ecs_services.rollout_steps(conn, [d.id for d in deployments])
        revisions = {}
        for item in newest:
            if isinstance(item, DeploymentRow):
                definition = ecs_taskdefs.by_id(conn, item.task_definition_id)
                revisions[item.id] = f"{definition.family}:{definition.revision}"
    return [
        _of_run(item, [_step(s.at, s.step, s.message, s.doc) for s in steps if s.run_id == item.id], rollout)
        if isinstance(item, RunRow)
        else _of_deployment(item, deployments, revisions[item.id], rollout)
        for item in newest
    ]
