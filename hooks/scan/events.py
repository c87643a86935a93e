"""The events a scan announces, written to the outbox in the transaction that records its
outcome: completed (with the counts by severity), failed (or unsupported), and, when an image is
scanned again (a new advisory database), one for every finding the previous scan did not have.
On EventBridge the first two are ECR's "ECR Image Scan" events."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from storage.event_kinds import Kind
from storage.metadata import events, images, scans
from storage.metadata.events import EventRow

from ..formats import eventbridge


@dataclass(frozen=True)
class ScanCompleted:
    digest: str
    tags: list[str]
    reason: str  # push, manual or vulndb (a new advisory database)
    severity_counts: dict[str, int]


@dataclass(frozen=True)
class ScanFailed:
    digest: str
    tags: list[str]
    reason: str
    status: str  # FAILED, or UNSUPPORTED_IMAGE for what is not a container image
    description: str


@dataclass(frozen=True)
class ScanFinding:
    digest: str
    tags: list[str]
    finding: dict[str, Any]  # name, id, severity, package, version, fixedIn, uri


SCAN_COMPLETED = Kind("image.scan_completed", ScanCompleted, "a vulnerability scan of an image completed")
SCAN_FAILED = Kind("image.scan_failed", ScanFailed, "a vulnerability scan failed, or the image cannot be scanned")
SCAN_FINDING = Kind("image.scan_finding", ScanFinding, "a scan found a vulnerability the image's previous scan had not")


def _identity(finding: dict[str, Any]) -> tuple[str, str, str, str]:
    return (finding["id"], finding["package"], finding["version"], finding["path"])


def observed(previous: list[dict[str, Any]] | None, current: list[dict[str, Any]], now: float) -> None:
    """Stamp each finding with when a scan of the image first found it."""
    first = {_identity(f): f.get("firstObservedAt") for f in previous or []}
    for finding in current:
        finding["firstObservedAt"] = first.get(_identity(finding)) or now


def new_findings(previous: list[dict[str, Any]] | None, current: list[dict[str, Any]]) -> list[dict[str, Any]]:
    known = {_identity(f) for f in previous or []}
    return [f for f in current if _identity(f) not in known]


def announce(
    conn: Connection,
    row: scans.ScanRow,
    status: str,
    description: str,
    counts: dict[str, int] | None,
    findings: list[dict[str, Any]] | None,
) -> None:
    """`row` is the scan as it was before this outcome (its findings are the previous ones)."""
    tags = images.tags_of(conn, row.repository_id, [row.digest]).get(row.digest, [])
    if status != scans.COMPLETE:
        events.enqueue(conn, SCAN_FAILED, row.repository, ScanFailed(row.digest, tags, row.reason, status, description))
        return
    events.enqueue(conn, SCAN_COMPLETED, row.repository, ScanCompleted(row.digest, tags, row.reason, counts or {}))
    if row.findings is None:
        return  # a first scan: its findings are in the counts, none is news
    for finding in new_findings(row.findings, findings or []):
        details = {key: finding[key] for key in ("name", "id", "severity", "package", "version", "fixedIn", "uri")}
        events.enqueue(conn, SCAN_FINDING, row.repository, ScanFinding(row.digest, tags, details))


def _scan_detail(event: EventRow, status: str) -> dict[str, Any]:
    return {
        "scan-status": status,
        "repository-name": event.repository,
        "image-digest": event.data["digest"],
        "image-tags": event.data["tags"],
    }


@eventbridge.define(SCAN_COMPLETED.name)
def _completed(event: EventRow) -> tuple[str, dict[str, Any]]:
    detail = _scan_detail(event, "COMPLETE") | {"finding-severity-counts": event.data["severityCounts"]}
    return "ECR Image Scan", detail


@eventbridge.define(SCAN_FAILED.name)
def _failed(event: EventRow) -> tuple[str, dict[str, Any]]:
    return "ECR Image Scan", _scan_detail(event, "FAILED")
