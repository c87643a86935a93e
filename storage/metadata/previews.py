"""The last lifecycle policy preview of each repository."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select

from .schema import lifecycle_previews
from .upsert import upsert


@dataclass(frozen=True, slots=True)
class PreviewRow:
    policy: str
    status: str
    results: list[dict[str, Any]]
    created_at: float


def save(conn: Connection, repository_id: int, policy: str, status: str, results: list[dict[str, Any]]) -> None:
    values = {
        "repository_id": repository_id,
        "policy": policy,
        "status": status,
        "results": json.dumps(results),
        "created_at": time.time(),
    }
    upsert(conn, lifecycle_previews, values)


def load(conn: Connection, repository_id: int) -> PreviewRow | None:
    record = conn.execute(select(lifecycle_previews).where(lifecycle_previews.c.repository_id == repository_id)).first()
    if record is None:
        return None
    return PreviewRow(record.policy, record.status, json.loads(record.results), record.created_at)
