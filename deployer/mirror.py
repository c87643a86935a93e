"""What an external engine reports, recorded in Cais's own rows, one transaction per service and
round: its tasks become task rows (so that DescribeServices, ListTasks, DescribeTasks and the
queries of what runs read the same rows whatever runs the containers), and its rollouts settle
Cais's deployments (deployer/following.py decides, records.apply_in writes)."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Connection

from storage.metadata import ecs_clusters as clusters
from storage.metadata import ecs_engines
from storage.metadata import ecs_services as services
from storage.metadata import ecs_tasks as tasks
from storage.metadata.ecs_tasks import TaskRow
from storage.metadata.engine import Database

from . import following, planner, records
from .external import RemoteTask, ServiceView
from .options import Options
from .planner import DeploymentView
from .store import ServiceState, _container, _service_state
from .taskdefs import task_needs

GONE = "Task no longer reported by the engine"


def state(db: Database, service_id: int) -> tuple[ServiceState, dict[str, str]]:
    """A service as DescribeServices shows it, with the refs of its deployments handed over."""
    with db.read() as conn:
        return _state(conn, service_id), ecs_engines.refs(conn, service_id)


def _state(conn: Connection, service_id: int) -> ServiceState:
    service = services.by_id(conn, service_id)
    return _service_state(conn, clusters.by_id(conn, service.cluster_id), service, 0)


def handed(db: Database, current: ServiceState, deployment: str, ref: str, engine: str) -> None:
    with db.write() as conn:
        ecs_engines.handed(conn, deployment, current.service.id, ref)
        message = f"(service {current.service.name}) (deployment {deployment}) handed to {engine} as {ref}."
        records.event(conn, current.service.id, message)


def note(db: Database, service_id: int, message: str) -> None:
    """An event of the service (the same one at most once a minute)."""
    with db.write(durable=False) as conn:
        name = services.by_id(conn, service_id).name
        records.event(conn, service_id, f"(service {name}) {message}")


def record(db: Database, options: Options, service_id: int, view: ServiceView | None) -> None:
    """The engine's view of the service (None: it runs no such service) in Cais's rows."""
    now = time.time()
    with db.write() as conn:
        current = _state(conn, service_id)
        refs = ecs_engines.refs(conn, service_id)
        deployments = [
            DeploymentView(d.id, d.status == "PRIMARY", d.rollout_state, d.failed_tasks) for d in current.deployments
        ]
        remote = view.tasks if view is not None else []
        _tasks(conn, options, current, remote, following.owners(remote, deployments, refs), now)
        if view is None:
            records.apply_in(conn, options, _state(conn, service_id), planner.Plan())
            return
        if current.service.status == "DRAINING":
            return  # INACTIVE once the engine has removed its service, not before
        live: dict[str, int] = {}
        for row in tasks.of_service(conn, service_id):
            if row.deployment_id is not None:
                live[row.deployment_id] = live.get(row.deployment_id, 0) + 1
        breaker = current.service.doc["deploymentConfiguration"]["deploymentCircuitBreaker"]
        can_roll_back = bool(services.last_completed(conn, service_id))
        followed = following.follow(deployments, refs, view, live, breaker.get("rollback", False), can_roll_back)
        for deployment, count in followed.failed.items():
            services.update_deployment(conn, deployment, failed_tasks=count)
        records.apply_in(conn, options, _state(conn, service_id), planner.Plan(followed.actions))
        if followed.adopt is not None:
            failed = next(a.failed for a in followed.actions if isinstance(a, planner.Rollback))
            adopting = next(d for d in services.deployments(conn, service_id) if d.rollback_of == failed)
            ecs_engines.handed(conn, adopting.id, service_id, followed.adopt)
        name = current.service.name
        for task in remote:
            if task.waiting:
                records.event(conn, service_id, f"(service {name}) was unable to place a task: {task.waiting}.")


def _tasks(
    conn: Connection,
    options: Options,
    current: ServiceState,
    remote: list[RemoteTask],
    owners: dict[str, str],
    now: float,
) -> None:
    existing = {t.id: t for t in tasks.of_service(conn, current.service.id, live_only=False)}
    deployments = {d.id: d for d in current.deployments}
    for task in remote:
        row = existing.get(task.id)
        if row is not None:
            changes = _changes(row, task)
            if changes:
                tasks.update_task(conn, task.id, **changes)
            continue
        owner = deployments.get(owners.get(task.id, ""))
        fresh = task.last_status != "STOPPED" or (task.stopped_at or now) >= now - options.stopped_ttl
        if owner is not None and fresh:
            tasks.create(conn, _row(current, task, owner.id, owner.task_definition_id))
    seen = {task.id for task in remote}
    for row in existing.values():
        if row.id not in seen and row.last_status != "STOPPED":
            doc = {**row.doc, "stoppedReason": row.doc.get("stoppedReason") or GONE}
            doc["containers"] = [{**c, "lastStatus": "STOPPED"} for c in row.doc.get("containers", [])]
            tasks.update_task(conn, row.id, last_status="STOPPED", desired_status="STOPPED", stopped_at=now, doc=doc)


def _containers(task: RemoteTask, base: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The task's container entries (shaped as the local engine's) with what the engine reports."""
    reported = {c.name: c for c in task.containers}
    found = []
    for container in base:
        given = reported.get(container["name"])
        if given is None and len(reported) == 1 and len(base) == 1:
            given = next(iter(reported.values()))
        if given is not None:
            fields = {
                "lastStatus": given.last_status,
                "healthStatus": given.health,
                "imageDigest": given.image_digest,
                "runtimeId": given.runtime_id,
                "exitCode": given.exit_code,
                "reason": given.reason,
            }
            container = {**container, **{k: v for k, v in fields.items() if v is not None}}
        found.append(container)
    return found


def _doc(task: RemoteTask, base: dict[str, Any]) -> dict[str, Any]:
    doc = {**base, "containers": _containers(task, base.get("containers", []))}
    for key, value in (("stoppedReason", task.stopped_reason), ("stopCode", task.stop_code)):
        if value and task.last_status == "STOPPED":
            doc[key] = value
    return doc


def _changes(row: TaskRow, task: RemoteTask) -> dict[str, Any]:
    wanted: dict[str, Any] = {
        "last_status": task.last_status,
        "desired_status": task.desired_status,
        "health_status": task.health,
        "started_at": task.started_at or row.started_at,
        "stopped_at": task.stopped_at if task.last_status == "STOPPED" else None,
        "doc": _doc(task, row.doc),
    }
    return wanted if any(getattr(row, k) != v for k, v in wanted.items()) else {}


def _row(current: ServiceState, task: RemoteTask, deployment: str, definition_id: int) -> TaskRow:
    definition = current.definitions[definition_id].doc
    cpu, memory = task_needs(definition)
    base = {
        "startedBy": deployment,
        "group": f"service:{current.service.name}",
        "launchType": "EC2",
        "containers": [_container(task.id, c) for c in definition["containerDefinitions"]],
    }
    return TaskRow(
        task.id,
        current.cluster.id,
        current.service.id,
        deployment,
        definition_id,
        None,
        task.last_status,
        task.desired_status,
        task.health,
        task.created_at,
        task.started_at,
        task.stopped_at if task.last_status == "STOPPED" else None,
        cpu,
        memory,
        1,
        _doc(task, base),
    )
