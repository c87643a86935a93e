"""Asking for a scan: `cais scan`, ECR's StartImageScan, a push to a repository that scans on
push, and a new advisory database all come through `request_scan`."""

from __future__ import annotations

from storage.errors import ManifestUnknown
from storage.metadata import manifests, repositories, scans
from storage.metadata.engine import Database
from storage.metadata.scans import ScanRow

PUSH, MANUAL, VULNDB = "push", "manual", "vulndb"


def request_scan(db: Database, repository: str, digest: str, reason: str) -> ScanRow:
    """Queue a scan of repository@digest (NameUnknown, ManifestUnknown when there is no such
    image). A scan already queued stays queued; one running runs again when it ends; a push
    leaves an image that has a scan alone (events are delivered at least once)."""
    with db.write() as conn:
        repository_id = repositories.require(conn, repository)
        if not manifests.present(conn, repository_id, [digest]):
            raise ManifestUnknown(f"manifest {digest} unknown to {repository}", {"digest": digest})
        if reason == PUSH and (existing := scans.get(conn, repository_id, digest)) is not None:
            return existing
        return scans.request(conn, repository_id, digest, reason)
