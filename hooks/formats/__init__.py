"""Formats: one native event, rendered per subscription as the body and headers of a request.

- `cais` (cais.py): our own JSON document, the reference every other format is drawn from;
- `cloudevents` (cloudevents.py): CloudEvents 1.0, structured or binary mode;
- `distribution` (distribution.py): the CNCF Distribution notification envelope;
- `eventbridge` (eventbridge.py): the events ECR sends to Amazon EventBridge.

A format may not render every kind (Distribution knows pushes, pulls and deletes): the fan-out
sends a subscription only the kinds its format renders.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any, Protocol

from storage.metadata.events import EventRow


@dataclass(frozen=True)
class Origin:
    """Who sends: what the formats say about this registry."""

    url: str  # how clients reach the registry (public_url, else http://<listen address>)
    instance: str  # changes at each start of a process (Distribution's source.instanceID)
    region: str  # the [ecr] identity, for the EventBridge shape
    account: str

    @property
    def host(self) -> str:
        return self.url.split("://", 1)[-1].rstrip("/")


@dataclass(frozen=True)
class Rendered:
    body: bytes
    headers: dict[str, str]


class Format(Protocol):
    name: str

    def renders(self, kind: str) -> bool: ...

    def render(self, event: EventRow, origin: Origin, options: dict[str, Any]) -> Rendered: ...


def timestamp(seconds: float, fraction: bool = True) -> str:
    """RFC 3339 in UTC: 2026-01-02T03:04:05.678Z (or without the fraction)."""
    moment = datetime.datetime.fromtimestamp(seconds, datetime.UTC)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    return f"{text}.{moment.microsecond // 1000:03d}Z" if fraction else f"{text}Z"


def formats() -> dict[str, Format]:
    from . import cais, cloudevents, distribution, eventbridge

    found: list[Format] = [cais.CAIS, cloudevents.CLOUDEVENTS, distribution.DISTRIBUTION, eventbridge.EVENTBRIDGE]
    return {item.name: item for item in found}
