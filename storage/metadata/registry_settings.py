"""Registry-wide settings kept as one JSON document each."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, select

from .schema import registry_settings
from .upsert import upsert


def get(conn: Connection, name: str) -> Any:
    value = conn.execute(select(registry_settings.c.value).where(registry_settings.c.name == name)).scalar()
    return json.loads(value) if value is not None else None


def put(conn: Connection, name: str, value: Any) -> None:
    upsert(conn, registry_settings, {"name": name, "value": json.dumps(value)})
