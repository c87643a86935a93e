"""The deployer's events: a deployment started, completed, failed, or was rolled back. Each is
written with storage's outbox in the transaction of the state change it announces (the
deployer knows nothing of hooks/, which delivers them: webhooks, and the deploy rules that follow
their deployments). The event's repository is the one of this registry's image the task
definition runs, so that webhooks filtered on repositories see the deployments of their images.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection

from storage.event_kinds import Kind
from storage.metadata import ecs_clusters, ecs_services, ecs_taskdefs, ecs_tasks, events

from .options import Options
from .references import local


@dataclass(frozen=True)
class DeploymentChanged:
    cluster: str
    service: str
    service_arn: str
    deployment: str  # ecs-svc/...
    task_definition: str  # family:revision
    images: dict[str, str]  # container name -> image reference
    rollout_state: str  # IN_PROGRESS, COMPLETED, FAILED
    reason: str
    desired: int
    running: int  # RUNNING tasks of this deployment
    failed_tasks: int
    digest: str | None = None  # of this registry's image, when the reference is pinned
    rollback_of: str | None = None  # rolled_back: the deployment that failed
    superseded: str | None = None  # started: the deployment whose rollout it replaced


STARTED = Kind("deployment.started", DeploymentChanged, "a service deployment started")
COMPLETED = Kind("deployment.completed", DeploymentChanged, "a service deployment completed")
FAILED = Kind("deployment.failed", DeploymentChanged, "a service deployment failed (circuit breaker, stopped)")
ROLLED_BACK = Kind(
    "deployment.rolled_back", DeploymentChanged, "a failed deployment is being rolled back (a new deployment)"
)
KINDS = (STARTED, COMPLETED, FAILED, ROLLED_BACK)


def announce(
    conn: Connection,
    options: Options,
    kind: Kind[DeploymentChanged],
    deployment_id: str,
    superseded: str | None = None,
) -> None:
    """Write the event of `kind` about a deployment, as it is now in this transaction."""
    deployment = ecs_services.deployment(conn, deployment_id)
    assert deployment is not None
    service = ecs_services.by_id(conn, deployment.service_id)
    cluster = ecs_clusters.by_id(conn, service.cluster_id)
    definition = ecs_taskdefs.by_id(conn, deployment.task_definition_id)
    images = {c["name"]: c["image"] for c in definition.doc["containerDefinitions"]}
    ours = [found for image in images.values() if (found := local(image, options.registry_hosts)) is not None]
    running = [
        t
        for t in ecs_tasks.of_service(conn, service.id)
        if t.deployment_id == deployment_id and t.last_status == "RUNNING"
    ]
    payload = DeploymentChanged(
        cluster=cluster.name,
        service=service.name,
        service_arn=options.arns.service(cluster.name, service.name),
        deployment=deployment_id,
        task_definition=f"{definition.family}:{definition.revision}",
        images=images,
        rollout_state=deployment.rollout_state,
        reason=deployment.rollout_reason or "",
        desired=service.desired_count,
        running=len(running),
        failed_tasks=deployment.failed_tasks,
        digest=ours[0].digest if ours else None,
        rollback_of=deployment.rollback_of,
        superseded=superseded,
    )
    events.enqueue(conn, kind, ours[0].repository if ours else None, payload)
