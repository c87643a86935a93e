"""Resource tags of repositories (key/value labels, ECR's TagResource), kept apart from image tags."""

from __future__ import annotations

from sqlalchemy import Connection, delete, select

from .schema import repository_labels
from .upsert import upsert


def get(conn: Connection, repository_id: int) -> dict[str, str]:
    query = select(repository_labels.c.key, repository_labels.c.value).where(
        repository_labels.c.repository_id == repository_id
    )
    return {row.key: row.value for row in conn.execute(query.order_by(repository_labels.c.key))}


def put(conn: Connection, repository_id: int, labels: dict[str, str]) -> None:
    for key, value in labels.items():
        upsert(conn, repository_labels, {"repository_id": repository_id, "key": key, "value": value})


def remove(conn: Connection, repository_id: int, keys: list[str]) -> None:
    if keys:
        where = (repository_labels.c.repository_id == repository_id) & repository_labels.c.key.in_(keys)
        conn.execute(delete(repository_labels).where(where))
