"""The event outbox: rows written inside the transaction of the change they announce."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from sqlalchemy import Connection, insert

from .schema import events

EVENT_VERSION = 1
_INSERT = insert(events)  # built once: every push writes an event


def enqueue(conn: Connection, kind: str, repository: str | None, payload: dict[str, Any]) -> str:
    event_id = str(uuid.uuid4())
    body = {"version": EVENT_VERSION, "id": event_id, "type": kind, "repository": repository, **payload}
    row = {"event_id": event_id, "type": kind, "repository": repository, "created_at": time.time()}
    conn.execute(_INSERT, {**row, "payload": json.dumps(body, separators=(",", ":"))})
    return event_id
