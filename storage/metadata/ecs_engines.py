"""Deployments handed to external engines, with the engine's ref of each (deployer/external.py)."""

from __future__ import annotations

import time

from sqlalchemy import Connection, select

from .schema import ecs_engine_rollouts as rollouts
from .upsert import upsert


def refs(conn: Connection, service_id: int) -> dict[str, str]:
    """{deployment id: the engine's ref} of one service's deployments handed over."""
    query = select(rollouts.c.deployment_id, rollouts.c.ref).where(rollouts.c.service_id == service_id)
    return {row.deployment_id: row.ref for row in conn.execute(query)}


def handed(conn: Connection, deployment_id: str, service_id: int, ref: str) -> None:
    values = {"deployment_id": deployment_id, "service_id": service_id, "ref": ref, "handed_at": time.time()}
    upsert(conn, rollouts, values)
