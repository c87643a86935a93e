"""Which images of this registry the deployer needs kept: those a live task runs, those a
PRIMARY or ACTIVE deployment may start again, and those of the last ROLLBACK_TARGETS deployments
of each service that COMPLETED (where a rollback would return). Lifecycle policies never expire
them (storage/lifecycle/runner.py asks through `protected`)."""

from __future__ import annotations

from sqlalchemy import Connection

from storage.metadata import ecs_services, ecs_taskdefs, ecs_tasks, tags
from storage.metadata.engine import Database

ROLLBACK_TARGETS = 3


def _split(reference: str, hosts: tuple[str, ...]) -> tuple[str, str | None, str | None] | None:
    """(repository, digest, tag) of a reference to this registry; None for other registries."""
    host, _, rest = reference.partition("/")
    if host not in hosts or not rest:
        return None
    if "@" in rest:
        repository, _, digest = rest.partition("@")
        return repository, digest, None
    repository, sep, tag = rest.rpartition(":")
    return (repository, None, tag) if sep else (rest, None, "latest")


def _references(conn: Connection) -> set[tuple[str, str | None]]:
    found = ecs_tasks.images_in_use(conn)
    for service in ecs_services.listing(conn, None, ("ACTIVE", "DRAINING")):
        for deployment in ecs_services.last_completed(conn, service.id, ROLLBACK_TARGETS):
            doc = ecs_taskdefs.by_id(conn, deployment.task_definition_id).doc
            found.update((c["image"], c["image"].partition("@")[2] or None) for c in doc["containerDefinitions"])
    return found


def in_use(db: Database, hosts: tuple[str, ...], repository: str) -> set[str]:
    """Digests of `repository` the deployer needs (a tag it names counts as its current digest)."""
    with db.read() as conn:
        digests = set()
        for reference, digest in _references(conn):
            parts = _split(reference, hosts)
            if parts is None or parts[0] != repository:
                continue
            found = digest or parts[1] or tags.resolve(conn, repository, parts[2] or "latest")
            if found:
                digests.add(found)
        return digests
