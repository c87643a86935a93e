"""Structured logs: one JSON object per line, carrying the request id of the request being
served. Secrets never reach a log record: handlers log names and digests, never headers."""

from __future__ import annotations

import json
import logging
import sys
import time
from contextvars import ContextVar

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "color_message"}


class JsonFormatter(logging.Formatter):
    """Every request writes an access log line: the seconds part of its timestamp is formatted
    once per second."""

    def __init__(self) -> None:
        super().__init__()
        self._second: tuple[int, str] = (-1, "")  # one attribute: threads read it whole

    def _timestamp(self, record: logging.LogRecord) -> str:
        second = self._second
        if second[0] != int(record.created):
            second = (int(record.created), time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)))
            self._second = second
        return f"{second[1]}.{int(record.msecs):03d}Z"

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": self._timestamp(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
            "pid": record.process,
        }
        rid = request_id.get()
        if rid:
            entry["request_id"] = rid
        entry.update({key: value for key, value in vars(record).items() if key not in _STANDARD})
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def setup(level: str, fmt: str) -> None:
    # No log line shows where it was logged from: skip the stack walk every record would make
    # to find out (the optimisation the logging HOWTO documents).
    logging._srcfile = None
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").disabled = True
