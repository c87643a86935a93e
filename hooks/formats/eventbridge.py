"""The `eventbridge` format: the events ECR puts on Amazon EventBridge, so that handlers written
for ECR (a Lambda behind an EventBridge rule, say) port over.

    {"version": "0", "id", "detail-type": "ECR Image Action", "source": "aws.ecr",
     "account", "time", "region", "resources": [],
     "detail": {"result": "SUCCESS", "repository-name", "image-digest",
                "action-type": "PUSH" | "DELETE", "image-tag",
                "manifest-media-type", "artifact-media-type"}}

image.pushed, image.deleted and tag.deleted are "ECR Image Action" events (an event carries
one tag, as ECR's do: the first of a push that named several). Other areas add their own
detail-types with `define` (the scanner: "ECR Image Scan"; deployments: ECS's "ECS Deployment
State Change", from source aws.ecs with the service's ARN in `resources`); kinds nothing
defines are not sent to these subscriptions.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from storage.metadata.events import EventRow

from . import Origin, Rendered, timestamp
from .cais import JSON, encode

Detail = Callable[[EventRow], tuple[str, dict[str, Any]]]  # (detail-type, detail)
Resources = Callable[[EventRow], list[str]]
_details: dict[str, tuple[Detail, str, Resources]] = {}


def _none(event: EventRow) -> list[str]:
    return []


def define(kind: str, source: str = "aws.ecr", resources: Resources = _none) -> Callable[[Detail], Detail]:
    """Register how events of `kind` look on EventBridge (`source`: the AWS service that would
    send them; `resources`: the ARNs the event is about)."""

    def register(detail: Detail) -> Detail:
        _details[kind] = (detail, source, resources)
        return detail

    return register


def _action(event: EventRow, action: str, tag: str | None) -> dict[str, Any]:
    detail = {
        "result": "SUCCESS",
        "repository-name": event.repository,
        "image-digest": event.data["digest"],
        "action-type": action,
    }
    return detail | ({"image-tag": tag} if tag else {})


@define("image.pushed")
def _pushed(event: EventRow) -> tuple[str, dict[str, Any]]:
    detail = _action(event, "PUSH", next(iter(event.data["tags"]), None))
    detail["manifest-media-type"] = event.data["mediaType"]
    if event.data.get("artifactType"):
        detail["artifact-media-type"] = event.data["artifactType"]
    return "ECR Image Action", detail


@define("image.deleted")
def _deleted(event: EventRow) -> tuple[str, dict[str, Any]]:
    return "ECR Image Action", _action(event, "DELETE", next(iter(event.data["tags"]), None))


@define("tag.deleted")
def _untagged(event: EventRow) -> tuple[str, dict[str, Any]]:
    return "ECR Image Action", _action(event, "DELETE", event.data["tag"])


@define("webhook.ping")
def _ping(event: EventRow) -> tuple[str, dict[str, Any]]:
    return "Cais Webhook Test", dict(event.data)


class EventBridge:
    name = "eventbridge"

    def renders(self, kind: str) -> bool:
        return kind in _details

    def render(self, event: EventRow, origin: Origin, options: dict[str, Any]) -> Rendered:
        shape, source, resources = _details[event.kind]
        detail_type, detail = shape(event)
        body = {
            "version": "0",
            "id": event.event_id,
            "detail-type": detail_type,
            "source": source,
            "account": origin.account,
            "time": timestamp(event.created_at, fraction=False),
            "region": origin.region,
            "resources": resources(event),
            "detail": detail,
        }
        return Rendered(encode(body), {"content-type": JSON})


EVENTBRIDGE = EventBridge()
