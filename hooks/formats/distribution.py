"""The `distribution` format: the notification envelope of CNCF Distribution, field for field,
so that receivers written for Distribution's notifications work unchanged.

    {"events": [{"id", "timestamp", "action": "push" | "pull" | "delete",
                 "target": {"mediaType", "digest", "size", "length", "repository", "url", "tag"},
                 "request": {"id", "addr", "host", "method", "useragent"},
                 "actor": {"name"}, "source": {"addr", "instanceID"}}]}

Content type `application/vnd.docker.distribution.events.v2+json` (option `version: 1` for
`...events.v1+json`, which older receivers check for; the envelope is the same). What
Distribution sends for each action, we send for its counterpart: image.pushed (one event per
tag, as Distribution sends one per tagged PUT), image.pulled, blob.uploaded, and the deletes
(image.deleted: digest; tag.deleted: tag; repository.deleted: the repository alone). Other
kinds have no counterpart and are not sent to these subscriptions; `cais webhook test` sends an
envelope with no events.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from storage.metadata.events import EventRow

from . import Origin, Rendered, timestamp
from .cais import encode

MEDIA_TYPE = "application/vnd.docker.distribution.events.v{version}+json"
LAYER = "application/octet-stream"
Target = dict[str, Any]


def _manifest(origin: Origin, event: EventRow, tag: str | None = None) -> Target:
    data = event.data
    target = {
        "mediaType": data.get("mediaType"),
        "digest": data["digest"],
        "size": data.get("size"),
        "length": data.get("size"),
        "repository": event.repository,
        "url": f"{origin.url}/v2/{event.repository}/manifests/{data['digest']}",
        "tag": tag,
    }
    return {key: value for key, value in target.items() if value is not None}


def _pushed(origin: Origin, event: EventRow) -> list[tuple[str, Target]]:
    return [("push", _manifest(origin, event, tag)) for tag in event.data.get("tags") or [None]]


def _pulled(origin: Origin, event: EventRow) -> list[tuple[str, Target]]:
    return [("pull", _manifest(origin, event))]


def _blob(origin: Origin, event: EventRow) -> list[tuple[str, Target]]:
    data = event.data
    url = f"{origin.url}/v2/{event.repository}/blobs/{data['digest']}"
    target = {"mediaType": LAYER, "digest": data["digest"], "size": data["size"], "length": data["size"]}
    return [("push", {**target, "repository": event.repository, "url": url})]


def _deleted(origin: Origin, event: EventRow) -> list[tuple[str, Target]]:
    target = {"digest": event.data.get("digest"), "repository": event.repository, "tag": event.data.get("tag")}
    return [("delete", {key: value for key, value in target.items() if value is not None})]


ACTIONS: dict[str, Callable[[Origin, EventRow], list[tuple[str, Target]]]] = {
    "image.pushed": _pushed,
    "image.pulled": _pulled,
    "blob.uploaded": _blob,
    "image.deleted": _deleted,
    "tag.deleted": _deleted,
    "repository.deleted": _deleted,
    "webhook.ping": lambda origin, event: [],
}
METHODS = {"push": "PUT", "pull": "GET", "delete": "DELETE"}


def envelope(event: EventRow, origin: Origin) -> dict[str, Any]:
    actions = ACTIONS[event.kind](origin, event)
    who = event.actor
    listed = []
    for index, (action, target) in enumerate(actions):
        request = {
            "id": who.request_id or "",
            "addr": who.address,
            "host": origin.host,
            "method": METHODS[action] if who.request_id else "",
            "useragent": "",
        }
        listed.append(
            {
                "id": event.event_id if index == 0 else f"{event.event_id}-{index}",
                "timestamp": timestamp(event.created_at),
                "action": action,
                "target": target,
                "request": {key: value for key, value in request.items() if value is not None},
                "actor": {"name": who.name} if who.name else {},
                "source": {"addr": origin.host, "instanceID": origin.instance},
            }
        )
    return {"events": listed}


class Distribution:
    name = "distribution"

    def renders(self, kind: str) -> bool:
        return kind in ACTIONS

    def render(self, event: EventRow, origin: Origin, options: dict[str, Any]) -> Rendered:
        media_type = MEDIA_TYPE.format(version=options.get("version", 2))
        return Rendered(encode(envelope(event, origin)), {"content-type": media_type})


DISTRIBUTION = Distribution()
