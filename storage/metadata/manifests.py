"""Manifests: immutable bodies shared by digest, per-repository rows, and their references."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, delete, select

from ..manifest_format import ParsedManifest
from .schema import manifest_bodies, manifest_references, manifests, repositories, repository_blobs
from .upsert import insert_ignore


@dataclass(frozen=True, slots=True)
class ManifestRow:
    digest: str
    media_type: str
    size: int
    artifact_type: str | None
    annotations: dict[str, str]


def _row(record: Any) -> ManifestRow:
    return ManifestRow(
        digest=record.digest,
        media_type=record.media_type,
        size=record.size,
        artifact_type=record.artifact_type,
        annotations=json.loads(record.annotations) if record.annotations else {},
    )


# Built once: building a statement costs more than SQLite running it.
_FIND = (
    select(manifests)
    .join(repositories, repositories.c.id == manifests.c.repository_id)
    .where(repositories.c.name == bindparam("repository"), manifests.c.digest == bindparam("digest"))
)
_BODY = select(manifest_bodies.c.body).where(manifest_bodies.c.digest == bindparam("digest"))


def find(conn: Connection, repository: str, digest: str) -> ManifestRow | None:
    record = conn.execute(_FIND, {"repository": repository, "digest": digest}).first()
    return _row(record) if record is not None else None


def body(conn: Connection, digest: str) -> bytes | None:
    return conn.execute(_BODY, {"digest": digest}).scalar()


def present(conn: Connection, repository_id: int, digests: list[str]) -> set[str]:
    if not digests:
        return set()
    query = select(manifests.c.digest).where(
        manifests.c.repository_id == repository_id, manifests.c.digest.in_(set(digests))
    )
    return set(conn.execute(query).scalars())


def store(conn: Connection, repository_id: int, digest: str, raw: bytes, parsed: ParsedManifest) -> bool:
    """Record the manifest in the repository; False when it was already there."""
    insert_ignore(conn, manifest_bodies, {"digest": digest, "media_type": parsed.media_type, "body": raw})
    row = {
        "repository_id": repository_id,
        "digest": digest,
        "media_type": parsed.media_type,
        "artifact_type": parsed.descriptor_artifact_type,
        "subject": parsed.subject.digest if parsed.subject else None,
        "config_digest": parsed.config.digest if parsed.config else None,
        "size": len(raw),
        "annotations": json.dumps(parsed.annotations) if parsed.annotations else None,
        "pushed_at": time.time(),
    }
    if insert_ignore(conn, manifests, row).rowcount == 0:
        return False
    refs = [(d.digest, "blob") for d in parsed.blobs] + [(d.digest, "manifest") for d in parsed.children]
    values = [
        {"repository_id": repository_id, "digest": digest, "child": child, "kind": kind} for child, kind in set(refs)
    ]
    if values:
        insert_ignore(conn, manifest_references, values)
    return True


def remove(conn: Connection, repository_id: int, digest: str) -> bool:
    gone = conn.execute(
        delete(manifests).where(manifests.c.repository_id == repository_id, manifests.c.digest == digest)
    ).rowcount
    conn.execute(
        delete(manifest_references).where(
            manifest_references.c.repository_id == repository_id, manifest_references.c.digest == digest
        )
    )
    return gone > 0


def referencing(conn: Connection, repository_id: int, child: str) -> list[str]:
    """Manifests of the repository that reference `child` (a blob or a manifest)."""
    query = select(manifest_references.c.digest).where(
        manifest_references.c.repository_id == repository_id, manifest_references.c.child == child
    )
    return list(conn.execute(query).scalars())


def referrers(
    conn: Connection, repository: str, subject: str, artifact_type: str | None, after: str, limit: int
) -> list[ManifestRow]:
    query = (
        select(manifests)
        .join(repositories, repositories.c.id == manifests.c.repository_id)
        .where(repositories.c.name == repository, manifests.c.subject == subject, manifests.c.digest > after)
    )
    if artifact_type is not None:
        query = query.where(manifests.c.artifact_type == artifact_type)
    return [_row(r) for r in conn.execute(query.order_by(manifests.c.digest).limit(limit))]


@dataclass(frozen=True, slots=True)
class BlobReference:
    """A manifest's reference to a blob, as fsck checks it."""

    repository_id: int
    repository: str
    manifest: str
    blob: str
    linked: bool  # the repository links the blob (pulls find it only then)


def blob_references(conn: Connection, configs_only: bool) -> list[BlobReference]:
    """Every reference of a manifest to a blob (configs_only: to its config, for registries
    that accept sparse image manifests, whose layers may never have been pushed)."""
    link = repository_blobs.alias()
    query = (
        select(
            manifest_references.c.repository_id,
            repositories.c.name,
            manifest_references.c.digest,
            manifest_references.c.child,
            link.c.digest.is_not(None).label("linked"),
        )
        .join(repositories, repositories.c.id == manifest_references.c.repository_id)
        .outerjoin(
            link,
            (link.c.repository_id == manifest_references.c.repository_id)
            & (link.c.digest == manifest_references.c.child),
        )
        .where(manifest_references.c.kind == "blob")
    )
    if configs_only:
        query = query.join(
            manifests,
            (manifests.c.repository_id == manifest_references.c.repository_id)
            & (manifests.c.digest == manifest_references.c.digest)
            & (manifests.c.config_digest == manifest_references.c.child),
        )
    ordered = query.order_by(repositories.c.name, manifest_references.c.digest, manifest_references.c.child)
    return [BlobReference(r.repository_id, r.name, r.digest, r.child, bool(r.linked)) for r in conn.execute(ordered)]
