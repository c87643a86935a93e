"""The event outbox: rows written inside the transaction of the change they announce."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from sqlalchemy import Connection, insert

from .schema import events

EVENT_VERSION = 1


def enqueue(conn: Connection, kind: str, repository: str | None, payload: dict[str, Any]) -> str:
    event_id = str(uuid.uuid4())
    body = {"version": EVENT_VERSION, "id": event_id, "type": kind, "repository": repository, **payload}
    conn.execute(
        insert(events).values(
            event_id=event_id,
            type=kind,
            repository=repository,
            payload=json.dumps(body, separators=(",", ":")),
            created_at=time.time(),
        )
    )
    return event_id
