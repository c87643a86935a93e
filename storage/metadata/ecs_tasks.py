"""Tasks of the deployer and their log streams."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update

from .schema import ecs_clusters, ecs_log_streams, ecs_services, ecs_tasks
from .upsert import insert_ignore

LIVE = ("PROVISIONING", "PENDING", "ACTIVATING", "RUNNING", "DEACTIVATING", "STOPPING", "DEPROVISIONING")


@dataclass(frozen=True, slots=True)
class TaskRow:
    id: str
    cluster_id: int
    service_id: int | None
    deployment_id: str | None
    task_definition_id: int
    instance_id: str | None
    last_status: str
    desired_status: str
    health_status: str
    created_at: float
    started_at: float | None
    stopped_at: float | None
    cpu: int
    memory: int
    version: int
    doc: dict[str, Any]


def _row(row: Any) -> TaskRow:
    return TaskRow(**{**row._mapping, "doc": json.loads(row.doc)})


def create(conn: Connection, row: TaskRow) -> None:
    values = {name: getattr(row, name) for name in TaskRow.__slots__}
    conn.execute(insert(ecs_tasks).values(**{**values, "doc": json.dumps(row.doc)}))


def get(conn: Connection, task_id: str) -> TaskRow | None:
    row = conn.execute(select(ecs_tasks).where(ecs_tasks.c.id == task_id)).first()
    return _row(row) if row is not None else None


def update_task(conn: Connection, task_id: str, **values: Any) -> None:
    if "doc" in values:
        values["doc"] = json.dumps(values["doc"])
    values["version"] = ecs_tasks.c.version + 1
    conn.execute(update(ecs_tasks).where(ecs_tasks.c.id == task_id).values(**values))


def live(conn: Connection, cluster_id: int | None = None) -> list[TaskRow]:
    """Tasks not STOPPED (everything the scheduler watches)."""
    query = select(ecs_tasks).where(ecs_tasks.c.last_status != "STOPPED").order_by(ecs_tasks.c.created_at)
    if cluster_id is not None:
        query = query.where(ecs_tasks.c.cluster_id == cluster_id)
    return [_row(row) for row in conn.execute(query)]


def listing(
    conn: Connection,
    cluster_id: int,
    service_id: int | None = None,
    family_ids: list[int] | None = None,
    instance_id: str | None = None,
    started_by: str | None = None,
    desired_status: str | None = None,
) -> list[TaskRow]:
    query = select(ecs_tasks).where(ecs_tasks.c.cluster_id == cluster_id).order_by(ecs_tasks.c.created_at)
    if service_id is not None:
        query = query.where(ecs_tasks.c.service_id == service_id)
    if family_ids is not None:
        query = query.where(ecs_tasks.c.task_definition_id.in_(family_ids))
    if instance_id is not None:
        query = query.where(ecs_tasks.c.instance_id == instance_id)
    if desired_status is not None:
        query = query.where(ecs_tasks.c.desired_status == desired_status)
    rows = [_row(row) for row in conn.execute(query)]
    return [row for row in rows if started_by is None or row.doc.get("startedBy") == started_by]


def of_service(conn: Connection, service_id: int, live_only: bool = True) -> list[TaskRow]:
    query = select(ecs_tasks).where(ecs_tasks.c.service_id == service_id).order_by(ecs_tasks.c.created_at)
    if live_only:
        query = query.where(ecs_tasks.c.last_status != "STOPPED")
    return [_row(row) for row in conn.execute(query)]


def counts(conn: Connection, cluster_id: int) -> dict[str, int]:
    """How many tasks of the cluster are in each lastStatus (STOPPED left out)."""
    query = (
        select(ecs_tasks.c.last_status, func.count())
        .where(ecs_tasks.c.cluster_id == cluster_id, ecs_tasks.c.last_status != "STOPPED")
        .group_by(ecs_tasks.c.last_status)
    )
    return {status: int(n) for status, n in conn.execute(query)}


def add_log_stream(conn: Connection, group: str, stream: str, task_id: str, container: str, at: float) -> None:
    values = {"log_group": group, "stream": stream, "task_id": task_id, "container": container, "created_at": at}
    insert_ignore(conn, ecs_log_streams, values)


@dataclass(frozen=True, slots=True)
class StreamRow:
    group: str
    stream: str
    task_id: str
    container: str
    created_at: float
    cluster: str
    service: str | None


def log_streams(conn: Connection, group: str | None = None, prefix: str = "") -> list[StreamRow]:
    """awslogs streams with the cluster and service of their task (who may read them)."""
    query = (
        select(ecs_log_streams, ecs_clusters.c.name.label("cluster"), ecs_services.c.name.label("service"))
        .join(ecs_tasks, ecs_tasks.c.id == ecs_log_streams.c.task_id)
        .join(ecs_clusters, ecs_clusters.c.id == ecs_tasks.c.cluster_id)
        .outerjoin(ecs_services, ecs_services.c.id == ecs_tasks.c.service_id)
        .order_by(ecs_log_streams.c.log_group, ecs_log_streams.c.stream)
    )
    if group is not None:
        query = query.where(ecs_log_streams.c.log_group == group)
    if prefix:
        query = query.where(ecs_log_streams.c.stream.startswith(prefix, autoescape=True))
    return [
        StreamRow(r.log_group, r.stream, r.task_id, r.container, r.created_at, r.cluster, r.service)
        for r in conn.execute(query)
    ]


def prune_stopped(conn: Connection, before: float) -> list[str]:
    old = select(ecs_tasks.c.id).where(ecs_tasks.c.last_status == "STOPPED", ecs_tasks.c.stopped_at < before)
    stale = list(conn.execute(old).scalars())
    if stale:
        conn.execute(delete(ecs_log_streams).where(ecs_log_streams.c.task_id.in_(stale)))
        conn.execute(delete(ecs_tasks).where(ecs_tasks.c.id.in_(stale)))
    return stale


def uses_definition(conn: Connection, definition_id: int) -> bool:
    query = select(ecs_tasks.c.id).where(ecs_tasks.c.task_definition_id == definition_id).limit(1)
    return conn.execute(query).first() is not None
