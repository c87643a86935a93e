"""The JSON log format."""

from __future__ import annotations

import json
import logging

from registry.logs import JsonFormatter


def _line(formatter: JsonFormatter, created: float, **extra: object) -> dict[str, object]:
    record = logging.makeLogRecord({"name": "cais.access", "msg": "request", "levelname": "INFO", **extra})
    record.created, record.msecs = created, (created - int(created)) * 1000
    return dict(json.loads(formatter.format(record)))


def test_timestamps_and_extra_fields() -> None:
    formatter = JsonFormatter()
    first = _line(formatter, 1_700_000_000.25, status=200)
    assert first["ts"] == "2023-11-14T22:13:20.250Z" and first["status"] == 200
    assert _line(formatter, 1_700_000_000.999)["ts"] == "2023-11-14T22:13:20.999Z"  # same second: reused
    assert _line(formatter, 1_700_000_001.0)["ts"] == "2023-11-14T22:13:21.000Z"
    assert _line(formatter, 1_600_000_000.5)["ts"] == "2020-09-13T12:26:40.500Z"  # clocks may go back
    assert {"level", "logger", "msg", "pid"} <= first.keys() and "args" not in first
