"""Scan on push: the scanner's subscriber to image.pushed events. An image (or index) pushed to
a repository that scans on push (hooks/scan/policy.py) is queued; referrers (signatures, SBOMs,
the scanner's own among them) are not images and are left alone."""

from __future__ import annotations

from collections.abc import Callable

from storage.event_kinds import IMAGE_PUSHED
from storage.metadata.engine import Database

from ..subscribers import Event, Subscriber
from . import policy
from .trigger import PUSH, request_scan

NAME = "scanner"


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


def subscriber(db: Database, wake: Callable[[], None]) -> Subscriber:
    """The subscriber the serving processes run; `wake` tells this process's scan worker."""

    def handle(event: Event) -> None:
        image = event.payload(IMAGE_PUSHED)
        if event.repository is not None and pushed(db, event.repository, image.digest, image.subject):
            wake()

    return Subscriber(NAME, handle, events=(IMAGE_PUSHED.name,))
