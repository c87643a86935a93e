"""Images as management APIs see them: a manifest of a repository with its tags, size, push
and pull times. Read-only queries; changes go through the manifest and tag modules."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, and_, exists, func, or_, select

from .schema import blobs, manifest_references, manifests, tags

TAGGED, UNTAGGED, ANY = "TAGGED", "UNTAGGED", "ANY"
MAX_NESTING = 4  # index of indexes of...: deeper children are not counted in the size


@dataclass(frozen=True, slots=True)
class ImageRow:
    digest: str
    tags: tuple[str, ...]
    size: int  # the manifest plus every distinct blob it needs, its child manifests included
    pushed_at: float
    pulled_at: float | None
    media_type: str
    artifact_type: str | None
    subject: str | None


def _has_tag(repository_id: int) -> ColumnElement[bool]:
    return exists().where(tags.c.repository_id == repository_id, tags.c.digest == manifests.c.digest)


def _status_filter(query: Select[Any], repository_id: int, status: str) -> Select[Any]:
    if status == TAGGED:
        return query.where(_has_tag(repository_id))
    if status == UNTAGGED:
        return query.where(~_has_tag(repository_id))
    return query


def identifiers(
    conn: Connection, repository_id: int, status: str, after: tuple[str, str], limit: int
) -> list[tuple[str, str | None]]:
    """(digest, tag) pairs in order: one per tag, and one with None for an untagged image."""
    tag = func.coalesce(tags.c.name, "")
    query = (
        select(manifests.c.digest, tags.c.name)
        .select_from(
            manifests.outerjoin(
                tags, and_(tags.c.repository_id == manifests.c.repository_id, tags.c.digest == manifests.c.digest)
            )
        )
        .where(manifests.c.repository_id == repository_id)
        .where(or_(manifests.c.digest > after[0], and_(manifests.c.digest == after[0], tag > after[1])))
    )
    if status == TAGGED:
        query = query.where(tags.c.name.is_not(None))
    elif status == UNTAGGED:
        query = query.where(tags.c.name.is_(None))
    rows = conn.execute(query.order_by(manifests.c.digest, tag).limit(limit))
    return [(row.digest, row.name) for row in rows]


def digests(conn: Connection, repository_id: int, status: str, after: str, limit: int) -> list[str]:
    query = select(manifests.c.digest).where(manifests.c.repository_id == repository_id, manifests.c.digest > after)
    query = _status_filter(query, repository_id, status)
    return list(conn.execute(query.order_by(manifests.c.digest).limit(limit)).scalars())


def all_digests(conn: Connection, repository_id: int) -> list[str]:
    return list(conn.execute(select(manifests.c.digest).where(manifests.c.repository_id == repository_id)).scalars())


def tags_of(conn: Connection, repository_id: int, wanted: Iterable[str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = defaultdict(list)
    query = select(tags.c.digest, tags.c.name).where(tags.c.repository_id == repository_id, tags.c.digest.in_(wanted))
    for row in conn.execute(query.order_by(tags.c.name)):
        found[row.digest].append(row.name)
    return found


def children_of(conn: Connection, repository_id: int, parents: set[str]) -> dict[str, set[str]]:
    found: dict[str, set[str]] = defaultdict(set)
    query = select(manifest_references.c.digest, manifest_references.c.child).where(
        manifest_references.c.repository_id == repository_id,
        manifest_references.c.kind == "manifest",
        manifest_references.c.digest.in_(parents),
    )
    for row in conn.execute(query):
        found[row.digest].add(row.child)
    return found


def _blob_sets(conn: Connection, repository_id: int, wanted: set[str]) -> dict[str, dict[str, int]]:
    found: dict[str, dict[str, int]] = defaultdict(dict)
    query = (
        select(manifest_references.c.digest, blobs.c.digest.label("blob"), blobs.c.size)
        .join(blobs, blobs.c.digest == manifest_references.c.child)
        .where(
            manifest_references.c.repository_id == repository_id,
            manifest_references.c.kind == "blob",
            manifest_references.c.digest.in_(wanted),
        )
    )
    for row in conn.execute(query):
        found[row.digest][row.blob] = row.size
    return found


def sizes(conn: Connection, repository_id: int, wanted: list[str], own: dict[str, int]) -> dict[str, int]:
    """Bytes each manifest needs: itself, its blobs and its children's, each distinct blob once."""
    closure = {digest: {digest} for digest in wanted}
    frontier = set(wanted)
    for _ in range(MAX_NESTING):
        children = children_of(conn, repository_id, frontier)
        if not children:
            break
        for members in closure.values():
            members |= {child for parent in list(members) for child in children.get(parent, ())}
        frontier = {child for kids in children.values() for child in kids}
    every = set().union(*closure.values()) if closure else set()
    manifest_sizes = dict(own)
    missing = every - manifest_sizes.keys()
    if missing:
        query = select(manifests.c.digest, manifests.c.size).where(
            manifests.c.repository_id == repository_id, manifests.c.digest.in_(missing)
        )
        manifest_sizes |= {row.digest: row.size for row in conn.execute(query)}
    blob_sets = _blob_sets(conn, repository_id, every)
    result = {}
    for digest, members in closure.items():
        needed: dict[str, int] = {}
        for member in members:
            needed |= blob_sets.get(member, {})
        result[digest] = sum(manifest_sizes.get(member, 0) for member in members) + sum(needed.values())
    return result


def rows(conn: Connection, repository_id: int, wanted: list[str]) -> list[ImageRow]:
    """The images among `wanted` (absent digests are left out), in the order given."""
    query = select(manifests).where(manifests.c.repository_id == repository_id, manifests.c.digest.in_(wanted))
    records = {record.digest: record for record in conn.execute(query)}
    present = [digest for digest in wanted if digest in records]
    tag_map = tags_of(conn, repository_id, present)
    size_map = sizes(conn, repository_id, present, {d: records[d].size for d in present})
    return [
        ImageRow(
            digest=digest,
            tags=tuple(tag_map.get(digest, ())),
            size=size_map[digest],
            pushed_at=records[digest].pushed_at,
            pulled_at=records[digest].pulled_at,
            media_type=records[digest].media_type,
            artifact_type=records[digest].artifact_type,
            subject=records[digest].subject,
        )
        for digest in present
    ]


def children_in_use(conn: Connection, repository_id: int) -> set[str]:
    """Digests of manifests that another manifest of the repository lists (index entries)."""
    query = select(manifest_references.c.child).where(
        manifest_references.c.repository_id == repository_id, manifest_references.c.kind == "manifest"
    )
    return set(conn.execute(query).scalars())
