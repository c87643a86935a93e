"""Clusters, container instances and resource tags of the deployer (ECS's vocabulary)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update

from .schema import ecs_clusters, ecs_container_instances, ecs_resource_tags
from .upsert import upsert


@dataclass(frozen=True, slots=True)
class ClusterRow:
    id: int
    name: str
    status: str
    created_at: float
    doc: dict[str, Any]


@dataclass(frozen=True, slots=True)
class InstanceRow:
    id: str
    cluster_id: int
    host: str
    status: str
    cpu: int
    memory: int
    registered_at: float
    version: int


def _cluster(row: Any) -> ClusterRow:
    return ClusterRow(row.id, row.name, row.status, row.created_at, json.loads(row.doc))


def find(conn: Connection, name: str) -> ClusterRow | None:
    row = conn.execute(select(ecs_clusters).where(ecs_clusters.c.name == name)).first()
    return _cluster(row) if row is not None else None


def by_id(conn: Connection, cluster_id: int) -> ClusterRow:
    return _cluster(conn.execute(select(ecs_clusters).where(ecs_clusters.c.id == cluster_id)).one())


def listing(conn: Connection, active_only: bool = True) -> list[ClusterRow]:
    query = select(ecs_clusters).order_by(ecs_clusters.c.name)
    if active_only:
        query = query.where(ecs_clusters.c.status == "ACTIVE")
    return [_cluster(row) for row in conn.execute(query)]


def create(conn: Connection, name: str, doc: dict[str, Any]) -> ClusterRow:
    now = time.time()
    existing = find(conn, name)
    if existing is not None:  # an INACTIVE cluster's name is free again, as in ECS
        conn.execute(
            update(ecs_clusters)
            .where(ecs_clusters.c.id == existing.id)
            .values(status="ACTIVE", created_at=now, doc=json.dumps(doc))
        )
        return by_id(conn, existing.id)
    values = {"name": name, "status": "ACTIVE", "created_at": now, "doc": json.dumps(doc)}
    cluster_id = conn.execute(insert(ecs_clusters).values(**values)).inserted_primary_key[0]  # type: ignore[index]
    return by_id(conn, int(cluster_id))


def set_status(conn: Connection, cluster_id: int, status: str) -> None:
    conn.execute(update(ecs_clusters).where(ecs_clusters.c.id == cluster_id).values(status=status))


def _instance(row: Any) -> InstanceRow:
    return InstanceRow(
        row.id, row.cluster_id, row.host, row.status, row.cpu, row.memory, row.registered_at, row.version
    )


def instances(conn: Connection, cluster_id: int | None = None, include_inactive: bool = False) -> list[InstanceRow]:
    query = select(ecs_container_instances).order_by(ecs_container_instances.c.registered_at)
    if cluster_id is not None:
        query = query.where(ecs_container_instances.c.cluster_id == cluster_id)
    if not include_inactive:
        query = query.where(ecs_container_instances.c.status != "INACTIVE")
    return [_instance(row) for row in conn.execute(query)]


def instance(conn: Connection, instance_id: str) -> InstanceRow | None:
    row = conn.execute(select(ecs_container_instances).where(ecs_container_instances.c.id == instance_id)).first()
    return _instance(row) if row is not None else None


def register_instance(conn: Connection, row: InstanceRow) -> None:
    conn.execute(insert(ecs_container_instances).values(**{k: getattr(row, k) for k in InstanceRow.__slots__}))


def update_instance(conn: Connection, instance_id: str, **values: Any) -> None:
    values["version"] = ecs_container_instances.c.version + 1
    conn.execute(update(ecs_container_instances).where(ecs_container_instances.c.id == instance_id).values(**values))


def count_instances(conn: Connection, cluster_id: int) -> int:
    query = select(func.count()).where(
        ecs_container_instances.c.cluster_id == cluster_id, ecs_container_instances.c.status != "INACTIVE"
    )
    return int(conn.execute(query).scalar() or 0)


def tags(conn: Connection, arn: str) -> dict[str, str]:
    query = select(ecs_resource_tags.c.key, ecs_resource_tags.c.value).where(ecs_resource_tags.c.arn == arn)
    return {row.key: row.value for row in conn.execute(query.order_by(ecs_resource_tags.c.key))}


def put_tags(conn: Connection, arn: str, labels: dict[str, str]) -> None:
    for key, value in labels.items():
        upsert(conn, ecs_resource_tags, {"arn": arn, "key": key, "value": value})


def remove_tags(conn: Connection, arn: str, keys: list[str] | None = None) -> None:
    where = ecs_resource_tags.c.arn == arn
    if keys is not None:
        where = where & ecs_resource_tags.c.key.in_(keys)
    conn.execute(delete(ecs_resource_tags).where(where))
