"""Services, their deployments and their event lists."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from .schema import ecs_deployment_steps as steps
from .schema import ecs_deployments as deps
from .schema import ecs_service_events as events
from .schema import ecs_services as services

MAX_EVENTS = 100  # ECS keeps the most recent 100 events of a service


@dataclass(frozen=True, slots=True)
class ServiceRow:
    id: int
    cluster_id: int
    name: str
    status: str
    desired_count: int
    task_definition_id: int
    created_at: float
    updated_at: float
    steady: bool
    task_restarts: int
    doc: dict[str, Any]


@dataclass(frozen=True, slots=True)
class DeploymentRow:
    id: str
    service_id: int
    status: str
    task_definition_id: int
    rollout_state: str
    rollout_reason: str | None
    failed_tasks: int
    rollback_of: str | None
    stopped: bool
    created_at: float
    updated_at: float
    finished_at: float | None
    doc: dict[str, Any]


@dataclass(frozen=True, slots=True)
class EventRow:
    event_id: str
    created_at: float
    message: str


def _service(row: Any) -> ServiceRow:
    return ServiceRow(**{**row._mapping, "doc": json.loads(row.doc)})


def _deployment(row: Any) -> DeploymentRow:
    return DeploymentRow(**{**row._mapping, "doc": json.loads(row.doc)})


def find(conn: Connection, cluster_id: int, name: str) -> ServiceRow | None:
    row = conn.execute(select(services).where(services.c.cluster_id == cluster_id, services.c.name == name)).first()
    return _service(row) if row is not None else None


def by_id(conn: Connection, service_id: int) -> ServiceRow:
    return _service(conn.execute(select(services).where(services.c.id == service_id)).one())


def listing(
    conn: Connection, cluster_id: int | None = None, statuses: tuple[str, ...] = ("ACTIVE",)
) -> list[ServiceRow]:
    query = select(services).where(services.c.status.in_(statuses)).order_by(services.c.cluster_id, services.c.name)
    if cluster_id is not None:
        query = query.where(services.c.cluster_id == cluster_id)
    return [_service(row) for row in conn.execute(query)]


def create(conn: Connection, cluster_id: int, name: str, desired: int, definition_id: int, doc: dict[str, Any]) -> int:
    """A new service (an INACTIVE one of the same name is replaced, as ECS allows)."""
    conn.execute(
        delete(services).where(
            services.c.cluster_id == cluster_id, services.c.name == name, services.c.status == "INACTIVE"
        )
    )
    now = time.time()
    values = {
        "cluster_id": cluster_id,
        "name": name,
        "status": "ACTIVE",
        "desired_count": desired,
        "task_definition_id": definition_id,
        "created_at": now,
        "updated_at": now,
        "doc": json.dumps(doc),
    }
    return int(conn.execute(insert(services).values(**values)).inserted_primary_key[0])  # type: ignore[index]


def update_service(conn: Connection, service_id: int, **values: Any) -> None:
    if "doc" in values:
        values["doc"] = json.dumps(values["doc"])
    values["updated_at"] = time.time()
    conn.execute(update(services).where(services.c.id == service_id).values(**values))


def count_restart(conn: Connection, service_id: int) -> None:
    conn.execute(update(services).where(services.c.id == service_id).values(task_restarts=services.c.task_restarts + 1))


def new_deployment_id() -> str:
    return f"ecs-svc/{uuid.uuid4().int % 10**19:019d}"


def start_deployment(
    conn: Connection, service_id: int, definition_id: int, doc: dict[str, Any], rollback_of: str | None = None
) -> str:
    """A new PRIMARY deployment; the previous PRIMARY becomes ACTIVE (a rollout it was running
    is superseded)."""
    now = time.time()
    previous = deps.c.service_id == service_id
    conn.execute(
        update(deps)
        .where(previous, deps.c.status == "PRIMARY", deps.c.rollout_state == "IN_PROGRESS")
        .values(stopped=True, updated_at=now)
    )
    conn.execute(update(deps).where(previous, deps.c.status == "PRIMARY").values(status="ACTIVE", updated_at=now))
    deployment_id = new_deployment_id()
    values = {
        "id": deployment_id,
        "service_id": service_id,
        "status": "PRIMARY",
        "task_definition_id": definition_id,
        "rollout_state": "IN_PROGRESS",
        "rollout_reason": "ECS deployment " + deployment_id + " in progress.",
        "rollback_of": rollback_of,
        "created_at": now,
        "updated_at": now,
        "doc": json.dumps(doc),
    }
    conn.execute(insert(deps).values(**values))
    return deployment_id


def deployments(conn: Connection, service_id: int, include_inactive: bool = False) -> list[DeploymentRow]:
    query = select(deps).where(deps.c.service_id == service_id).order_by(deps.c.created_at.desc())
    if not include_inactive:
        query = query.where(deps.c.status != "INACTIVE")
    return [_deployment(row) for row in conn.execute(query)]


def deployment(conn: Connection, deployment_id: str) -> DeploymentRow | None:
    row = conn.execute(select(deps).where(deps.c.id == deployment_id)).first()
    return _deployment(row) if row is not None else None


def update_deployment(conn: Connection, deployment_id: str, **values: Any) -> None:
    values["updated_at"] = time.time()
    conn.execute(update(deps).where(deps.c.id == deployment_id).values(**values))


def count_failure(conn: Connection, deployment_id: str) -> None:
    conn.execute(update(deps).where(deps.c.id == deployment_id).values(failed_tasks=deps.c.failed_tasks + 1))


def last_completed(conn: Connection, service_id: int, limit: int = 1) -> list[DeploymentRow]:
    """The most recent deployments that COMPLETED (the rollback targets), newest first."""
    query = (
        select(deps)
        .where(deps.c.service_id == service_id, deps.c.rollout_state == "COMPLETED")
        .order_by(deps.c.finished_at.desc())
        .limit(limit)
    )
    return [_deployment(row) for row in conn.execute(query)]


def add_event(conn: Connection, service_id: int, message: str) -> None:
    values = {"service_id": service_id, "event_id": str(uuid.uuid4()), "created_at": time.time(), "message": message}
    conn.execute(insert(events).values(**values))
    stale = select(events.c.id).where(events.c.service_id == service_id).order_by(events.c.id.desc())
    cutoff = conn.execute(stale.offset(MAX_EVENTS).limit(1)).scalar()
    if cutoff is not None:
        conn.execute(delete(events).where(events.c.service_id == service_id, events.c.id <= cutoff))


def recent_events(conn: Connection, service_id: int, limit: int = MAX_EVENTS) -> list[EventRow]:
    query = select(events).where(events.c.service_id == service_id).order_by(events.c.id.desc()).limit(limit)
    return [EventRow(row.event_id, row.created_at, row.message) for row in conn.execute(query)]


def uses_definition(conn: Connection, definition_id: int) -> bool:
    in_services = select(services.c.id).where(services.c.task_definition_id == definition_id).limit(1)
    in_deployments = select(deps.c.id).where(deps.c.task_definition_id == definition_id).limit(1)
    return conn.execute(in_services).first() is not None or conn.execute(in_deployments).first() is not None


@dataclass(frozen=True, slots=True)
class StepRow:
    deployment_id: str
    at: float
    message: str
    counts: dict[str, int]


def add_step(conn: Connection, deployment_id: str, message: str, counts: dict[str, int]) -> None:
    values = {"deployment_id": deployment_id, "at": time.time(), "message": message, "doc": json.dumps(counts)}
    conn.execute(insert(steps).values(**values))


def last_step(conn: Connection, deployment_id: str) -> StepRow | None:
    query = select(steps).where(steps.c.deployment_id == deployment_id).order_by(steps.c.id.desc()).limit(1)
    row = conn.execute(query).first()
    return StepRow(row.deployment_id, row.at, row.message, json.loads(row.doc)) if row is not None else None


def rollout_steps(conn: Connection, deployment_ids: list[str]) -> list[StepRow]:
    """The rollout steps of these deployments, oldest first."""
    query = select(steps).where(steps.c.deployment_id.in_(deployment_ids)).order_by(steps.c.id)
    return [StepRow(row.deployment_id, row.at, row.message, json.loads(row.doc)) for row in conn.execute(query)]
