"""JSON log lines, one event a line (CloudWatch keeps one event per line), each with the
request id of the work it belongs to: the chat API's `X-Request-ID`, the Lambda invocation's
request id, the web app's event.

Callers pass structured fields with `extra=`; nothing personal (e-mail addresses, comments,
message bodies, tokens) is ever passed at INFO.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from contextvars import ContextVar
from datetime import UTC, datetime

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
_request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
# The attributes every LogRecord has; anything else on a record came from `extra=`.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message",
    "asctime",
    "taskName",
}


def bind_request_id(request_id: str | None) -> None:
    """Tags the following log lines of this thread, greenlet or task with `request_id`."""
    _request_id.set(request_id)


def current_request_id() -> str | None:
    return _request_id.get()


class JsonFormatter(logging.Formatter):
    """`{"time", "level", "logger", "message", "request_id", <extra fields>, "exception"}`.

    `request_id` comes from the record (`extra={"request_id": ...}`) or else from
    `request_id_source`, by default the value bound with `bind_request_id`."""

    def __init__(self, request_id_source: Callable[[], str | None] | None = None) -> None:
        super().__init__()
        self._request_id_source = request_id_source or current_request_id

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None) or self._request_id_source()
        if request_id:
            line["request_id"] = request_id
        for key, value in vars(record).items():
            if key not in _STANDARD and key != "request_id" and not key.startswith("_"):
                line[key] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, default=str)


class _CurrentStream(logging.StreamHandler):
    """Writes to whatever sys.stdout or sys.stderr is at the time (tests and runtimes replace
    them after import)."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self._name = name

    @property
    def stream(self):
        return getattr(sys, self._name)

    @stream.setter
    def stream(self, value):
        pass


def level_name(raw: str | None, default: str = "INFO") -> str:
    """A LOG_LEVEL value as a level name; unknown or empty values give `default`."""
    value = (raw or "").strip().upper()
    return value if value in LEVELS else default


def configure(
    logger_name: str | None = None,
    *,
    level: str = "INFO",
    stream: str = "stderr",
    request_id_source: Callable[[], str | None] | None = None,
) -> logging.Logger:
    """Gives `logger_name` (the root logger when None) one JSON handler writing to `stream`
    ("stdout" or "stderr"); safe to call more than once."""
    logger = logging.getLogger(logger_name)
    handler = _CurrentStream(stream)
    handler.setFormatter(JsonFormatter(request_id_source))
    logger.handlers[:] = [handler]
    logger.setLevel(level_name(level))
    if logger_name is not None:
        logger.propagate = False  # a runtime's root handler would print the line twice
    # botocore logs request bodies at DEBUG and chatter at INFO; only its warnings matter.
    logging.getLogger("botocore").setLevel(max(logging.WARNING, logger.level))
    return logger
