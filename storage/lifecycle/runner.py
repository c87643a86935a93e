"""Applying lifecycle policies to repositories: preview (what would happen, and why) and run
(expire the images, their referrers with them, an audit row and an image.deleted event for each).

Evaluation and removal happen in one write transaction, so the images removed are exactly the
ones the policy judged, whatever pushes happen meanwhile. Images an index of the repository
lists, and referrers whose subject is present, are not judged on their own: an index carries its
children, and referrers go with their subject.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select

from .. import actor
from ..errors import PolicyNotFound
from ..manifest_store import delete_manifest
from ..metadata import audit, images, previews, repositories
from ..metadata.audit import AuditRow
from ..metadata.engine import Database
from ..metadata.schema import manifests
from .evaluate import Image, Verdict, evaluate
from .policy import parse

# Digests of a repository that must never expire, each with why (images the deployer runs or may
# roll back to: deployer/retention.py provides them).
ProtectedDigests = Callable[[str], Mapping[str, str]]


def nothing_protected(repository: str) -> Mapping[str, str]:
    return {}


def _lifecycle(who: actor.Actor) -> actor.Actor:
    """Images a policy expires are deleted by the lifecycle, on behalf of whoever ran it (no one
    for the scheduled runs); the rule is in the event."""
    name = "" if who.kind == "system" else who.name
    return actor.Actor("lifecycle", name, who.request_id, who.address)


@dataclass(frozen=True, slots=True)
class Expired:
    digest: str
    tags: list[str]
    rule: int | None
    reason: str


def verdict_record(verdict: Verdict) -> dict[str, Any]:
    return {
        "digest": verdict.image.digest,
        "tags": list(verdict.image.tags),
        "pushedAt": verdict.image.pushed_at,
        "expire": verdict.expire,
        "rule": verdict.rule,
        "reason": verdict.reason,
    }


def _judged_images(conn: Connection, repository_id: int) -> list[Image]:
    rows = images.rows(conn, repository_id, images.all_digests(conn, repository_id))
    present = {row.digest for row in rows}
    carried = images.children_in_use(conn, repository_id)
    return [
        Image(row.digest, row.tags, row.pushed_at, row.pulled_at)
        for row in rows
        if row.digest not in carried and row.subject not in present
    ]


def _referrers(conn: Connection, repository_id: int, digest: str) -> list[str]:
    query = select(manifests.c.digest).where(manifests.c.repository_id == repository_id, manifests.c.subject == digest)
    return list(conn.execute(query).scalars())


class Lifecycle:
    def __init__(self, db: Database, protected: ProtectedDigests = nothing_protected) -> None:
        self.db = db
        self.protected = protected

    def _judge(self, conn: Connection, repository: str, repository_id: int, text: str) -> list[Verdict]:
        return evaluate(parse(text), _judged_images(conn, repository_id), time.time(), self.protected(repository))

    def preview(self, repository: str, policy_text: str | None = None) -> list[Verdict]:
        """Judge the images with `policy_text` (default: the repository's policy) and keep the
        result as the repository's preview."""
        with self.db.write() as conn:
            row = repositories.get(conn, repository)
            if row is None:
                raise repositories.unknown(repository)
            text = policy_text or row.lifecycle_policy
            if text is None:
                raise PolicyNotFound(f"repository {repository} has no lifecycle policy")
            verdicts = self._judge(conn, repository, row.id, text)
            previews.save(conn, row.id, text, "COMPLETE", [verdict_record(v) for v in verdicts])
        return verdicts

    def last_preview(self, repository: str) -> previews.PreviewRow:
        with self.db.read() as conn:
            found = previews.load(conn, repositories.require(conn, repository))
        if found is None:
            raise PolicyNotFound(f"repository {repository} has no lifecycle policy preview")
        return found

    def run(self, repository: str) -> list[Expired]:
        """Apply the repository's policy now; returns what was removed."""
        run_id = uuid.uuid4().hex
        with self.db.write() as conn:
            row = repositories.get(conn, repository, lock=True)
            if row is None:
                raise repositories.unknown(repository)
            if row.lifecycle_policy is None:
                raise PolicyNotFound(f"repository {repository} has no lifecycle policy")
            removed: list[Expired] = []
            for verdict in self._judge(conn, repository, row.id, row.lifecycle_policy):
                if verdict.expire:
                    removed += self._expire(
                        conn, repository, row.id, verdict.image.digest, verdict.rule, verdict.reason
                    )
            for item in removed:
                audit.record(
                    conn, AuditRow(run_id, repository, item.digest, item.tags, item.rule, item.reason, time.time())
                )
            repositories.set_columns(conn, row.id, {"lifecycle_evaluated_at": time.time()})
        return removed

    def _expire(
        self, conn: Connection, repository: str, repository_id: int, digest: str, rule: int | None, reason: str
    ) -> list[Expired]:
        removed = []
        for referrer in _referrers(conn, repository_id, digest):
            removed += self._expire(
                conn, repository, repository_id, referrer, rule, f"referrer of expired image {digest}"
            )
        with actor.acting(_lifecycle(actor.current())):
            tags = delete_manifest(conn, repository, repository_id, digest, rule, reason)
        return [*removed, Expired(digest, tags, rule, reason)]

    def run_all(self) -> list[Expired]:
        with self.db.read() as conn:
            names = repositories.with_lifecycle_policy(conn)
        removed = []
        for name in names:
            removed += self.run(name)
        return removed
