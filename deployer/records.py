"""The scheduler's side of the state: what it reads each round and the transitions it records,
each one transaction, so that a crash between two of them leaves a state the next round (in this
process or another) continues from."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from storage.metadata import ecs_clusters as clusters
from storage.metadata import ecs_services as services
from storage.metadata import ecs_taskdefs as taskdefs
from storage.metadata import ecs_tasks as tasks
from storage.metadata import tags as tag_rows
from storage.metadata.ecs_clusters import ClusterRow, InstanceRow
from storage.metadata.ecs_taskdefs import TaskDefinitionRow
from storage.metadata.ecs_tasks import TaskRow
from storage.metadata.engine import Database

from . import placement, planner, progress
from .options import Options
from .store import ServiceState, _request_stop, _service_state, launch, roll_back, settled

EVENT_REPEAT = 60.0  # the same event message is not repeated more often than this


@dataclass(frozen=True, slots=True)
class Snapshot:
    clusters: dict[int, ClusterRow]
    instances: dict[str, InstanceRow]
    services: list[ServiceState]  # ACTIVE and DRAINING
    tasks: list[TaskRow]  # not STOPPED
    definitions: dict[int, TaskDefinitionRow]

    def definition(self, task: TaskRow) -> TaskDefinitionRow:
        return self.definitions[task.task_definition_id]


def clusters_of(db: Database) -> list[ClusterRow]:
    """The ACTIVE clusters."""
    with db.read() as conn:
        return clusters.listing(conn)


def snapshot(db: Database, leave_out: set[int] | None = None) -> Snapshot:
    """Everything one round reads, except the clusters `leave_out` names (with their services
    and tasks: those external engines run)."""
    skipped = leave_out or set()
    with db.read() as conn:
        found = {c.id: c for c in clusters.listing(conn) if c.id not in skipped}
        states = [
            _service_state(conn, found[s.cluster_id], s, 0)
            for s in services.listing(conn, None, ("ACTIVE", "DRAINING"))
            if s.cluster_id in found
        ]
        live = [t for t in tasks.live(conn) if t.cluster_id not in skipped]
        ids = {t.task_definition_id for t in live} | {i for s in states for i in s.definitions}
        return Snapshot(
            found,
            {i.id: i for i in clusters.instances(conn)},
            states,
            live,
            {i: taskdefs.by_id(conn, i) for i in ids},
        )


def update_task(db: Database, task_id: str, changes: dict[str, Any], doc: dict[str, Any] | None = None) -> None:
    """Change a task's columns and merge `doc` into its document."""
    with db.write(durable=False) as conn:
        current = tasks.get(conn, task_id)
        if current is None:
            return
        values = dict(changes)
        if doc:
            values["doc"] = {**current.doc, **doc}
        tasks.update_task(conn, task_id, **values)


def containers_doc(task: TaskRow, changes: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """The task's container list with each named container's fields updated."""
    return [{**c, **changes.get(c["name"], {})} for c in task.doc.get("containers", [])]


def stopped(db: Database, task: TaskRow, containers: dict[str, dict[str, Any]]) -> None:
    """Record that the task's containers are all gone or exited."""
    now = time.time()
    final = [{**c, "lastStatus": "STOPPED"} for c in containers_doc(task, containers)]
    doc = {"containers": final, "executionStoppedAt": now}
    update_task(db, task.id, {"last_status": "STOPPED", "desired_status": "STOPPED", "stopped_at": now}, doc)


def failed(db: Database, task: TaskRow, code: str, reason: str) -> None:
    """A task that stopped or could not start on its own: it stops, and its deployment counts
    a failure (the circuit breaker's input)."""
    with db.write() as conn:
        current = tasks.get(conn, task.id)
        if current is None or current.desired_status == "STOPPED":
            return
        _request_stop(conn, current, code, reason, failed=True)
        if current.deployment_id is not None and current.service_id is not None:
            services.count_failure(conn, current.deployment_id)
            services.count_restart(conn, current.service_id)


def event(conn: Connection, service_id: int, message: str) -> None:
    recent = services.recent_events(conn, service_id, 1)
    if recent and recent[0].message == message and time.time() - recent[0].created_at < EVENT_REPEAT:
        return
    services.add_event(conn, service_id, message)


def apply(db: Database, options: Options, state: ServiceState, result: planner.Plan) -> None:
    """Record the planner's actions for one service in one transaction."""
    with db.write() as conn:
        apply_in(conn, options, state, result)


def apply_in(conn: Connection, options: Options, state: ServiceState, result: planner.Plan) -> None:
    """apply() inside a transaction of the caller's."""
    name = state.service.name
    for action in result.actions:
        if isinstance(action, planner.Launch):
            _launch(conn, options, state, action)
        elif isinstance(action, planner.Stop):
            task = tasks.get(conn, action.task)
            if task is not None and task.desired_status != "STOPPED":
                _request_stop(conn, task, "ServiceSchedulerInitiated", action.reason, action.failed)
                if action.failed and task.deployment_id and task.service_id:
                    services.count_failure(conn, task.deployment_id)
                    services.count_restart(conn, task.service_id)
                    event(conn, state.service.id, f"(service {name}) (task {task.id}) {action.reason.lower()}.")
        elif isinstance(action, planner.Settle):
            _settle(conn, state, action)
            settled(conn, options, action.deployment, action.rollout)
        elif isinstance(action, planner.Rollback):
            roll_back(conn, options, state.service, action.failed)
        elif isinstance(action, planner.Retire):
            services.update_deployment(conn, action.deployment, status="INACTIVE")
        elif isinstance(action, planner.Stuck):
            event(conn, state.service.id, f"(service {name}) {action.message}.")
    progress.record(conn, state.service.id, result.actions)
    _steady(conn, state.service.id)


def _launch(conn: Connection, options: Options, state: ServiceState, action: planner.Launch) -> None:
    deployment = next(d for d in state.deployments if d.id == action.deployment)
    definition = taskdefs.by_id(conn, deployment.task_definition_id)
    doc = {"startedBy": action.deployment, "group": f"service:{state.service.name}"}
    for _ in range(action.count):
        placed = launch(conn, options, state.cluster, definition, doc, state.service, deployment.id)
        if isinstance(placed, placement.Unplaced):
            closest = f" The closest matching (container-instance {placed.closest})" if placed.closest else ""
            event(
                conn,
                state.service.id,
                f"(service {state.service.name}) was unable to place a task because no container instance met "
                f"all of its requirements.{closest} has {placement.event_text(placed.reason)}. "
                f"For more information, see the Troubleshooting section.",
            )
            return


def _settle(conn: Connection, state: ServiceState, action: planner.Settle) -> None:
    services.update_deployment(
        conn, action.deployment, rollout_state=action.rollout, rollout_reason=action.reason, finished_at=time.time()
    )
    name = state.service.name
    if action.rollout == planner.COMPLETED:
        event(conn, state.service.id, f"(service {name}) (deployment {action.deployment}) deployment completed.")
    else:
        event(
            conn,
            state.service.id,
            f"(service {name}) (deployment {action.deployment}) deployment failed: tasks failed to start.",
        )


def _steady(conn: Connection, service_id: int) -> None:
    """The "has reached a steady state" event, once each time the service gets there."""
    service = services.by_id(conn, service_id)
    deployments = services.deployments(conn, service_id)
    live = tasks.of_service(conn, service_id)
    if service.status == "DRAINING":
        if not live:
            services.update_service(conn, service_id, status="INACTIVE")
            for deployment in deployments:
                services.update_deployment(conn, deployment.id, status="INACTIVE")
        return
    running = [t for t in live if t.last_status == "RUNNING" and t.desired_status == "RUNNING"]
    steady = (
        len(deployments) == 1
        and deployments[0].rollout_state == "COMPLETED"
        and len(running) == len(live) == service.desired_count
    )
    if steady and not service.steady:
        event(conn, service_id, f"(service {service.name}) has reached a steady state.")
    if steady != service.steady:
        services.update_service(conn, service_id, steady=steady)


def can_roll_back(db: Database, service_id: int) -> bool:
    with db.read() as conn:
        return bool(services.last_completed(conn, service_id))


def pin(db: Database, hosts: tuple[str, ...], reference: str) -> tuple[str, str | None]:
    """(what to pull, the repository in this registry or None): images of this registry (at
    `hosts`) are pulled by digest, a tag resolved at the moment of the call."""
    host, _, rest = reference.partition("/")
    if host not in hosts or not rest:
        return reference, None
    if "@" in rest:
        return reference, rest.partition("@")[0]
    repository, _, tag = rest.rpartition(":") if ":" in rest else (rest, ":", "latest")
    with db.read() as conn:
        digest = tag_rows.resolve(conn, repository, tag)
    return (f"{host}/{repository}@{digest}" if digest else reference), repository


def prune(db: Database, before: float) -> list[str]:
    """Forget STOPPED tasks older than `before` (returns their ids) and task definitions deleted
    that nothing uses."""
    with db.write(durable=False) as conn:
        pruned = tasks.prune_stopped(conn, before)
        for definition in taskdefs.listing(conn, None, "DELETE_IN_PROGRESS", False, 0, 1000):
            if not tasks.uses_definition(conn, definition.id) and not services.uses_definition(conn, definition.id):
                taskdefs.remove(conn, definition.id)
        return pruned
