"""The `cloudevents` format: CloudEvents 1.0 over HTTP, through the CloudEvents SDK (2.x API).
Structured mode by default (`application/cloudevents+json`, the whole event in the body), binary
mode on request (attributes in `ce-*` headers, the data alone in the body).

    id       the event's id           type     io.cais.<kind>.v<version>, e.g. io.cais.image.pushed.v1
    source   the registry's URL       subject  the repository, when there is one
    time     when it happened         data     the cais document (hooks/formats/cais.py)
"""

from __future__ import annotations

import datetime
from typing import Any

from storage.metadata.events import EventRow

from . import Origin, Rendered
from .cais import JSON, document


class CloudEvents:
    name = "cloudevents"

    def renders(self, kind: str) -> bool:
        return True

    def render(self, event: EventRow, origin: Origin, options: dict[str, Any]) -> Rendered:
        # Imported here: only processes that deliver CloudEvents load the SDK.
        from cloudevents.core.bindings.http import to_binary_event, to_structured_event
        from cloudevents.core.v1.event import CloudEvent

        attributes: dict[str, Any] = {
            "id": event.event_id,
            "source": origin.url,
            "type": f"io.cais.{event.kind}.v{event.version}",
            "time": datetime.datetime.fromtimestamp(event.created_at, datetime.UTC),
            "datacontenttype": JSON,
        }
        if event.repository:
            attributes["subject"] = event.repository
        cloud_event = CloudEvent(attributes, document(event))
        message = to_binary_event(cloud_event) if options.get("binary") else to_structured_event(cloud_event)
        return Rendered(message.body, {key.lower(): value for key, value in message.headers.items()})


CLOUDEVENTS = CloudEvents()
