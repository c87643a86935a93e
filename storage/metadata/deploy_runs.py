"""Deploy runs: one per push a deploy rule took up, with the steps of its way through the scan
gate and the approval to a deployment, and how that ended (hooks/deploy/ moves them along)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, insert, select, update

from .schema import deploy_runs as runs
from .schema import deploy_steps as steps
from .upsert import insert_ignore

SCANNING = "SCANNING"  # waiting for the image's scan
AWAITING_APPROVAL = "AWAITING_APPROVAL"  # the rule wants someone to approve (`cais deploy approve`)
DEPLOYING = "DEPLOYING"  # its deployment rolls out
COMPLETED = "COMPLETED"
FAILED = "FAILED"  # the rollout failed, or the service could not take the image
ROLLED_BACK = "ROLLED_BACK"  # the circuit breaker returned the service to what ran before
BLOCKED = "BLOCKED"  # the scan gate refused it
REJECTED = "REJECTED"  # someone refused the approval
SUPERSEDED = "SUPERSEDED"  # a newer push to the same service took its place
WAITING = (SCANNING, AWAITING_APPROVAL)
OPEN = (*WAITING, DEPLOYING)


@dataclass(frozen=True, slots=True)
class RunRow:
    id: int
    rule: str
    event_id: str
    cluster: str
    service: str
    repository: str
    tag: str
    digest: str
    state: str
    reason: str | None
    deployment_id: str | None
    doc: dict[str, Any]  # rule (as it was at the push), pushedBy, pushedAt, scan, gate, revision, rollback...
    created_at: float
    updated_at: float
    finished_at: float | None


@dataclass(frozen=True, slots=True)
class StepRow:
    run_id: int
    at: float
    step: str
    message: str
    doc: dict[str, Any]


def _row(record: Any) -> RunRow:
    return RunRow(**{**record._mapping, "doc": json.loads(record.doc)})


def create(conn: Connection, values: dict[str, Any]) -> int | None:
    """A new run; None when the rule already took up this event (a repeated delivery)."""
    now = time.time()
    row = {**values, "doc": json.dumps(values["doc"]), "created_at": now, "updated_at": now}
    if insert_ignore(conn, runs, row).rowcount != 1:
        return None
    query = select(runs.c.id).where(runs.c.rule == values["rule"], runs.c.event_id == values["event_id"])
    return int(conn.execute(query).scalar_one())


def get(conn: Connection, run_id: int, lock: bool = False) -> RunRow | None:
    query = select(runs).where(runs.c.id == run_id)
    record = conn.execute(query.with_for_update() if lock else query).first()
    return _row(record) if record is not None else None


def change(conn: Connection, run_id: int, **values: Any) -> RunRow:
    """Change columns; `doc` is merged into the run's document. Returns the run as it is now."""
    current = get(conn, run_id)
    assert current is not None
    now = time.time()
    if "doc" in values:
        values["doc"] = json.dumps({**current.doc, **values["doc"]})
    if values.get("state") not in (None, *OPEN):
        values["finished_at"] = now
    conn.execute(update(runs).where(runs.c.id == run_id).values(**values, updated_at=now))
    changed = get(conn, run_id)
    assert changed is not None
    return changed


def by_deployment(conn: Connection, deployment_id: str) -> RunRow | None:
    record = conn.execute(select(runs).where(runs.c.deployment_id == deployment_id)).first()
    return _row(record) if record is not None else None


def of_image(conn: Connection, repository: str, digest: str, states: tuple[str, ...]) -> list[RunRow]:
    query = select(runs).where(runs.c.repository == repository, runs.c.digest == digest, runs.c.state.in_(states))
    return [_row(record) for record in conn.execute(query.order_by(runs.c.id))]


def of_service(
    conn: Connection, cluster: str, service: str, states: tuple[str, ...] | None = None, limit: int = 1000
) -> list[RunRow]:
    """The service's runs, newest first."""
    query = select(runs).where(runs.c.cluster == cluster, runs.c.service == service)
    if states is not None:
        query = query.where(runs.c.state.in_(states))
    return [_row(record) for record in conn.execute(query.order_by(runs.c.id.desc()).limit(limit))]


def add_step(conn: Connection, run_id: int, step: str, message: str, doc: dict[str, Any] | None = None) -> None:
    values = {"run_id": run_id, "at": time.time(), "step": step, "message": message, "doc": json.dumps(doc or {})}
    conn.execute(insert(steps).values(**values))


def steps_of(conn: Connection, run_ids: list[int]) -> list[StepRow]:
    """The steps of these runs, oldest first."""
    query = select(steps).where(steps.c.run_id.in_(run_ids)).order_by(steps.c.id)
    return [StepRow(r.run_id, r.at, r.step, r.message, json.loads(r.doc)) for r in conn.execute(query)]
