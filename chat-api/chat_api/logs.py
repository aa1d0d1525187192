"""JSON-line logs carrying the request id; never tokens or message texts at INFO."""

from __future__ import annotations

import logging
import os
import re
import uuid

from flask import Flask, Response, g, request

from chatbot_common import logs
from chatbot_common.wire import REQUEST_ID_HEADER

from .timing import HEADER as SERVER_TIMING_HEADER
from .timing import RequestTiming

# A caller's id is echoed into logs and headers, so only a short, safe alphabet is accepted.
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def _request_id() -> str | None:
    try:
        return g.get("request_id")
    except RuntimeError:  # outside a request
        return None


def configure_logging(level: str) -> None:
    """JSON lines on stderr (the root logger), each with the request id of Flask's `g` unless
    the line names its own (a stream's access line is written after its request)."""
    logs.configure(level=level, stream="stderr", request_id_source=_request_id)


# The load balancer and the container probe these every few seconds; a successful probe is
# logged at DEBUG so it neither floods the logs nor costs the hot path a formatted line.
QUIET_PATHS = frozenset({"/api/v1/health", "/api/v1/health/ready"})


def init_request_logging(app: Flask) -> None:
    access = logging.getLogger("chat_api.access")

    @app.before_request
    def assign_request_id() -> None:
        incoming = request.headers.get(REQUEST_ID_HEADER, "")
        g.request_id = incoming if _SAFE_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        g.timing = RequestTiming()

    @app.after_request
    def log_request(response: Response) -> Response:
        request_id = g.get("request_id") or uuid.uuid4().hex
        response.headers[REQUEST_ID_HEADER] = request_id
        timing = g.get("timing") or RequestTiming()
        # A stream's headers leave before its body: they carry the spans known by then; the
        # stream's last event and the log line carry the whole request's.
        response.headers[SERVER_TIMING_HEADER] = timing.header(partial=response.is_streamed)
        level = (
            logging.DEBUG
            if request.path in QUIET_PATHS and response.status_code < 400
            else logging.INFO
        )
        if not access.isEnabledFor(level):
            return response
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
            spans = timing.snapshot()
            # A stream's own fields, known once it ended (its outcome: routes/streaming.py).
            fields.update(getattr(response, "log_fields", None) or {})
            fields["latency_ms"] = spans["total"]
            fields["spans_ms"] = spans
            access.log(level, "request", extra=fields)

        if response.is_streamed:
            response.call_on_close(emit)
        else:
            emit()
        return response
