"""The `cais` format: one JSON document per event.

{
  "id": "0b0c3f6e-...",            the event's id: the same on every retry (and in webhook-id)
  "type": "image.pushed",          its kind (storage/event_kinds.py)
  "version": 1,                    the version of that kind's payload
  "time": "2026-01-02T03:04:05.678Z",
  "repository": "team/app",        null for events about the registry (accounts)
  "actor": {"kind": "user", "name": "alice"},
  "request": {"id": "4f1c...", "address": "10.1.2.3"},   null without a request
  "data": {...}                    the kind's payload
}
"""

from __future__ import annotations

import json
from typing import Any

from storage.metadata.events import EventRow

from . import Origin, Rendered, timestamp

JSON = "application/json"


def document(event: EventRow) -> dict[str, Any]:
    who = event.actor
    request = {"id": who.request_id, "address": who.address} if who.request_id else None
    return {
        "id": event.event_id,
        "type": event.kind,
        "version": event.version,
        "time": timestamp(event.created_at),
        "repository": event.repository,
        "actor": {"kind": who.kind, "name": who.name},
        "request": request,
        "data": event.data,
    }


def encode(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


class Cais:
    name = "cais"

    def renders(self, kind: str) -> bool:
        return True

    def render(self, event: EventRow, origin: Origin, options: dict[str, Any]) -> Rendered:
        return Rendered(encode(document(event)), {"content-type": JSON})


CAIS = Cais()
