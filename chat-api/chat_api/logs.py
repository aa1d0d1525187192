"""JSON-line logs carrying the request id; never tokens or message texts at INFO."""

from __future__ import annotations

import logging
import os
import re
import sys
import time
import uuid

from flask import Flask, Response, g, request
from pythonjsonlogger.json import JsonFormatter

REQUEST_ID_HEADER = "X-Request-ID"
# A caller's id is echoed into logs and headers, so only a short, safe alphabet is accepted.
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class _RequestContext(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            record.request_id = g.get("request_id")
        except RuntimeError:  # outside a request
            record.request_id = None
        return True


def configure_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter(
            "{asctime}{levelname}{name}{message}",
            style="{",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        )
    )
    handler.addFilter(_RequestContext())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # botocore logs request bodies at DEBUG and chatter at INFO; only its warnings matter here.
    logging.getLogger("botocore").setLevel(max(logging.WARNING, root.level))


# The load balancer and the container probe these every few seconds; a successful probe is
# logged at DEBUG so it neither floods the logs nor costs the hot path a formatted line.
QUIET_PATHS = frozenset({"/api/v1/health", "/api/v1/health/ready"})


def init_request_logging(app: Flask) -> None:
    access = logging.getLogger("chat_api.access")

    @app.before_request
    def assign_request_id() -> None:
        incoming = request.headers.get(REQUEST_ID_HEADER, "")
        g.request_id = incoming if _SAFE_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        g.started = time.perf_counter()

    @app.after_request
    def log_request(response: Response) -> Response:
        request_id = g.get("request_id") or uuid.uuid4().hex
        response.headers[REQUEST_ID_HEADER] = request_id
        level = (
            logging.DEBUG
            if request.path in QUIET_PATHS and response.status_code < 400
            else logging.INFO
        )
        if not access.isEnabledFor(level):
            return response
        started = g.get("started", time.perf_counter())
        fields = {
            "request_id": request_id,
            "method": request.method,
            "path": request.path,
            "status": response.status_code,
            "user_id": g.get("user_id"),
            "pid": os.getpid(),  # which Gunicorn worker served it
        }

        def emit() -> None:
            # For streams this runs when the last byte is sent, so latency covers the whole reply.
            fields["latency_ms"] = round((time.perf_counter() - started) * 1000, 2)
            access.log(level, "request", extra=fields)

        if response.is_streamed:
            response.call_on_close(emit)
        else:
            emit()
        return response
