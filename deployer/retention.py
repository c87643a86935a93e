"""Which images of this registry the deployer needs kept, and why: those a live task runs
("running in prod/api"), those a PRIMARY or ACTIVE deployment may start again, and those of the
last `rollback_targets` deployments of each service that COMPLETED (where a rollback would
return). Lifecycle policies never expire them (storage/lifecycle/runner.py asks through
`protected`, and its preview gives the reason) and garbage collection never takes their bytes
(storage/gc.py asks through `protected`, for images whose manifest was deleted meanwhile)."""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import Connection

from storage.metadata import ecs_clusters, ecs_services, ecs_taskdefs, ecs_tasks, tags
from storage.metadata.engine import Database

from .references import parse

ROLLBACK_TARGETS = 3
Needed = dict[tuple[str, str], str]  # (repository, digest) -> why it is kept


def _images(conn: Connection, rollback_targets: int) -> Iterator[tuple[str, str | None, str]]:
    """(image reference, digest if known, why), most compelling reasons first."""
    names = {c.id: c.name for c in ecs_clusters.listing(conn, active_only=False)}
    services = ecs_services.listing(conn, None, ("ACTIVE", "DRAINING"))
    service_names = {s.id: f"{names.get(s.cluster_id, '?')}/{s.name}" for s in services}
    for task in ecs_tasks.live(conn):
        where = service_names.get(task.service_id or 0) or f"{names.get(task.cluster_id, '?')} (task {task.id})"
        for container in task.doc.get("containers", []):
            yield container["image"], container.get("imageDigest"), f"running in {where}"
    targets = []
    for service in services:
        where = service_names[service.id]
        for deployment in ecs_services.deployments(conn, service.id):
            yield from _definition_images(
                conn, deployment.task_definition_id, f"{deployment.status} deployment of {where}"
            )
        for deployment in ecs_services.last_completed(conn, service.id, rollback_targets):
            targets.append((deployment.task_definition_id, f"rollback target of {where}"))
    for definition_id, why in targets:
        yield from _definition_images(conn, definition_id, why)


def _definition_images(conn: Connection, definition_id: int, why: str) -> Iterator[tuple[str, str | None, str]]:
    for container in ecs_taskdefs.by_id(conn, definition_id).doc["containerDefinitions"]:
        yield container["image"], None, why


def needed(db: Database, rollback_targets: int = ROLLBACK_TARGETS) -> Needed:
    """Every (repository, digest) of this registry the deployer needs, with the first reason found
    (a tag counts as the digest it points to now). References count whatever their host when
    they name a repository of this registry: keeping an image too many costs some bytes,
    expiring one that runs breaks a service, and the host is not always known the same way (a
    `cais lifecycle` command reads the configuration, not the address a server was given)."""
    found: Needed = {}
    with db.read() as conn:
        for reference, digest, why in _images(conn, rollback_targets):
            parts = parse(reference)
            if parts is None:
                continue
            resolved = digest or parts.digest or tags.resolve(conn, parts.repository, parts.tag or "latest")
            if resolved:
                found.setdefault((parts.repository, resolved), why)
    return found


def in_use(db: Database, rollback_targets: int, repository: str) -> dict[str, str]:
    """Digests of `repository` the deployer needs, each with why."""
    return {digest: why for (name, digest), why in needed(db, rollback_targets).items() if name == repository}
