"""Scan on push: what the scanner does with a pushed manifest. An image (or index) pushed to a
repository that scans on push (hooks/scan/policy.py) is queued; referrers (signatures, SBOMs,
the scanner's own SBOMs among them) are not images and are left alone."""

from __future__ import annotations

from storage.metadata.engine import Database

from . import policy
from .trigger import PUSH, request_scan


def pushed(db: Database, repository: str, digest: str, subject: str | None) -> bool:
    """Queue a scan of the pushed manifest when its repository wants one; whether it did.
    Idempotent: a repeated event finds the image's scan queued or done and changes nothing."""
    if subject is not None:
        return False
    with db.read() as conn:
        wanted = policy.scans_on_push(conn, repository)
    if wanted:
        request_scan(db, repository, digest, PUSH)
    return wanted
