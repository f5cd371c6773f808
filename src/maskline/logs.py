"""Logging for every Maskline process: `maskline serve`, each of its `--workers`, and
`maskline worker` alike, on standard error.

- `text` (MASKLINE_LOG_FORMAT's default): `2026-12-02T21:03:00.123Z INFO maskline.web message`.
- `json`: one object per line with `time`, `level`, `logger`, `message` and `pid`, the fields
  a record carries besides (an access record's `method`, `path`, `status`, `duration_ms`...),
  the `request_id` of the request it was written in, and `exception` when there is one.

uvicorn's own records go through the same handler: its loggers keep no handler of their own.
"""

from __future__ import annotations

import logging
import sys
import time
from contextvars import ContextVar
from typing import Any

import orjson

# The Twilio-Request-Id of the request being handled (each request is a task of its own).
# Held as the header's bytes (web/observe.py makes it so), decoded only when a line is written.
request_id: ContextVar[bytes | None] = ContextVar("maskline_request_id", default=None)

_UVICORN = ("uvicorn", "uvicorn.error", "uvicorn.asgi")
# What every LogRecord has: anything else on a record was given by `extra=`.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
    "color_message",  # uvicorn's copy of the message with terminal colours
}


def utc_time(created: float) -> str:
    seconds = int(created)
    millis = int((created - seconds) * 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{millis:03d}Z"


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = f"{utc_time(record.created)} {record.levelname} {record.name} {record.getMessage()}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": utc_time(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            # Which process of `serve --workers N` (or which worker) wrote it.
            "pid": record.process,
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        rid = request_id.get()
        if rid is not None and "request_id" not in entry:
            entry["request_id"] = rid.decode()
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


def configure(level: str, fmt: str) -> None:
    """Send every record at `level` or above to standard error, as `fmt` says."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    for old in root.handlers[:]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in _UVICORN:
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    # Maskline writes its own access records (web/observe.py): uvicorn writes one only when
    # its access logger has somewhere to write, and this one has nowhere. Its line would hold
    # the query string.
    quiet = logging.getLogger("uvicorn.access")
    quiet.handlers.clear()
    quiet.propagate = False
