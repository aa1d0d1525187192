# ruff: noqa: E402  (gevent must patch the standard library before anything else is imported)
"""Local Bedrock-compatible model server.

Speaks the Amazon Bedrock Runtime wire protocol, so boto3's ``bedrock-runtime`` client (with
``endpoint_url`` or AWS_ENDPOINT_URL_BEDROCK_RUNTIME pointing here, any credentials and any model
id) works unchanged:

  POST /model/{modelId}/converse         Converse: a JSON answer
  POST /model/{modelId}/converse-stream  ConverseStream: application/vnd.amazon.eventstream frames
                                         messageStart, contentBlockDelta..., contentBlockStop,
                                         messageStop, metadata; each delta is sent as produced

Replies come from the deterministic, emotion-aware responder (local_stack.responder). Errors look
like Bedrock's: HTTP status, ``x-amzn-ErrorType`` header and JSON {"message": ...}
(ValidationException 400 for bad bodies). Every answer carries ``x-amzn-RequestId``.

Start:  PYTHONPATH=scripts python -m local_stack.bedrock_server [options]
  --host HOST              bind address (default 127.0.0.1)
  --port PORT              port (default 4567; 0 picks a free one). Once listening, the server
                           prints "listening on http://HOST:PORT" as one line on stdout
  --ttft-ms MS             delay before the first token (default 50)
  --inter-token-ms MS      delay between tokens (default 10)
  --fault KIND             inject a fault into model requests:
                             throttle         429 ThrottlingException
                             model_not_ready  429 ModelNotReadyException
                             unavailable      503 ServiceUnavailableException
                             internal         500 InternalServerException
                             mid_stream       converse-stream sends half the deltas, then a
                                              modelStreamErrorException frame (boto3 raises
                                              EventStreamError); converse is not affected
                             guardrail        a guardrail intervention, only on requests that
                                              carry guardrailConfig (others are not affected):
                                              the guardrail's blocked message as the reply,
                                              stop reason guardrail_intervened
  --fault-count N          fail only the next N model requests, then succeed (default: always)
  --access-log             one line per request on stderr (default: no request logging)
Converse latency is the TTFT plus the inter-token delay for each further token.

Per-request overrides (request headers; they win over the server settings and do not use up
the fault count):
  X-Local-Bedrock-Ttft-Ms: MS
  X-Local-Bedrock-Inter-Token-Ms: MS
  X-Local-Bedrock-Fault: KIND | none

Control endpoints (JSON; bad values get 400 {"message": ...}):
  GET  /_local/health        200 {"status": "ok"}
  GET  /_local/config        {"ttft_ms", "inter_token_ms", "fault", "fault_count",
                              "fault_remaining"}
  PUT  /_local/config        any of {"ttft_ms", "inter_token_ms", "fault" (null clears),
                              "fault_count" (null = always)}; omitted fields keep their value;
                              setting fault or fault_count restarts the fault count
  GET  /_local/stats         {"requests": {"converse", "converse_stream"}, "faults": {KIND: n},
                              "validation_errors", "completed": {"converse", "converse_stream"},
                              "in_flight", "peak_in_flight"}
  GET  /_local/last-request  the latest valid model request: {"operation", "system" (the system
                              prompt's text), "guardrail_config" (or null)}; 404 before any
  POST /_local/stats/reset   zero the counters

Serving: one process, gevent's WSGI server (a greenlet per connection), so thousands of slow
streams can be open at once. SIGTERM or SIGINT stops it with exit status 0.
"""

if __name__ == "__main__":
    from gevent import monkey

    monkey.patch_all()

import argparse
import json
import math
import sys
import threading
import time
import uuid
from dataclasses import asdict, dataclass

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException

from local_stack import eventstream, responder

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 4567
DEFAULT_TTFT_MS = 50.0
DEFAULT_INTER_TOKEN_MS = 10.0
MAX_DELAY_MS = 600_000.0
MAX_OUTPUT_TOKENS = 8192
MAX_BODY_BYTES = 10 * 1024 * 1024

TTFT_HEADER = "X-Local-Bedrock-Ttft-Ms"
INTER_TOKEN_HEADER = "X-Local-Bedrock-Inter-Token-Ms"  # noqa: S105 (a header name)
FAULT_HEADER = "X-Local-Bedrock-Fault"

OPERATIONS = ("converse", "converse_stream")
# Fault kind -> (HTTP status, error type, message) for faults answered instead of a reply.
HTTP_FAULTS = {
    "throttle": (429, "ThrottlingException", "Too many requests, please wait before trying again."),
    "model_not_ready": (
        429,
        "ModelNotReadyException",
        "The model is not ready to serve inference requests. Try again later.",
    ),
    "unavailable": (503, "ServiceUnavailableException", "The service is currently unavailable."),
    "internal": (500, "InternalServerException", "The system encountered an internal error."),
}
MID_STREAM = "mid_stream"
GUARDRAIL = "guardrail"
FAULTS = (*HTTP_FAULTS, MID_STREAM, GUARDRAIL)
GUARDRAIL_STOP_REASON = "guardrail_intervened"
# Bedrock's default blocked-input message for a guardrail.
GUARDRAIL_MESSAGE = "Sorry, the model cannot answer this question."
MID_STREAM_EXCEPTION = "modelStreamErrorException"


class BadInput(ValueError):
    """A request or control value that cannot be accepted; its text is the 400 message."""


@dataclass
class Settings:
    """Run-time behaviour; changed by flags, PUT /_local/config, or per request by headers."""

    ttft_ms: float = DEFAULT_TTFT_MS
    inter_token_ms: float = DEFAULT_INTER_TOKEN_MS
    fault: str | None = None
    fault_count: int | None = None  # None: every request fails while a fault is set


def check_delay_ms(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadInput(f"{name} must be a number of milliseconds, got {value!r}")
    if not math.isfinite(value) or not 0 <= value <= MAX_DELAY_MS:
        raise BadInput(f"{name} must be between 0 and {MAX_DELAY_MS:.0f} milliseconds")
    return float(value)


def check_fault(name: str, value) -> str | None:
    if value is not None and value not in FAULTS:
        raise BadInput(f"{name} must be one of {', '.join(FAULTS)} or null, got {value!r}")
    return value


def check_fault_count(name: str, value) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise BadInput(f"{name} must be a non-negative integer or null, got {value!r}")
    return value


_SETTING_CHECKS = {
    "ttft_ms": check_delay_ms,
    "inter_token_ms": check_delay_ms,
    "fault": check_fault,
    "fault_count": check_fault_count,
}


def parse_settings_update(document) -> dict:
    """Validate a PUT /_local/config body into a dict of Settings fields."""
    if not isinstance(document, dict):
        raise BadInput("the config must be a JSON object")
    unknown = sorted(set(document) - set(_SETTING_CHECKS))
    if unknown:
        raise BadInput(
            f"unknown config field(s): {', '.join(unknown)}; "
            f"expected any of {', '.join(_SETTING_CHECKS)}"
        )
    return {name: _SETTING_CHECKS[name](name, value) for name, value in document.items()}


class ServerState:
    """Settings, the remaining fault count and the counters, shared by all requests."""

    def __init__(self, settings: Settings):
        self._lock = threading.Lock()
        self.settings = Settings(**asdict(settings))
        for name, value in asdict(self.settings).items():
            _SETTING_CHECKS[name](name, value)
        self.fault_remaining = self.settings.fault_count
        self.in_flight = 0
        self.last_request: dict | None = None
        self.reset_stats()

    def reset_stats(self) -> None:
        with self._lock:
            self.requests = dict.fromkeys(OPERATIONS, 0)
            self.completed = dict.fromkeys(OPERATIONS, 0)
            self.faults = dict.fromkeys(FAULTS, 0)
            self.validation_errors = 0
            # Open streams outlive a reset: in_flight is a gauge and is kept.
            self.peak_in_flight = self.in_flight

    def config(self) -> dict:
        with self._lock:
            return {**asdict(self.settings), "fault_remaining": self.fault_remaining}

    def update(self, changes: dict) -> dict:
        with self._lock:
            for name, value in changes.items():
                setattr(self.settings, name, value)
            if "fault" in changes or "fault_count" in changes:
                self.fault_remaining = self.settings.fault_count
        return self.config()

    def stats(self) -> dict:
        with self._lock:
            return {
                "requests": dict(self.requests),
                "faults": dict(self.faults),
                "validation_errors": self.validation_errors,
                "completed": dict(self.completed),
                "in_flight": self.in_flight,
                "peak_in_flight": self.peak_in_flight,
            }

    def count_request(self, operation: str) -> None:
        with self._lock:
            self.requests[operation] += 1

    def count_validation_error(self) -> None:
        with self._lock:
            self.validation_errors += 1

    def record_request(self, operation: str, system: str, guardrail_config: dict | None) -> None:
        with self._lock:
            self.last_request = {
                "operation": operation,
                "system": system,
                "guardrail_config": guardrail_config,
            }

    def take_fault(self, operation: str, guarded: bool = False) -> str | None:
        """The configured fault for this request, using up one of the fault count."""
        with self._lock:
            fault = self.settings.fault
            if fault is None or not fault_applies(fault, operation, guarded):
                return None
            if self.fault_remaining is not None:
                if self.fault_remaining <= 0:
                    return None
                self.fault_remaining -= 1
            self.faults[fault] += 1
            return fault

    def count_header_fault(self, fault: str) -> None:
        with self._lock:
            self.faults[fault] += 1

    def begin(self) -> None:
        with self._lock:
            self.in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)

    def end(self, operation: str, completed: bool) -> None:
        with self._lock:
            self.in_flight -= 1
            if completed:
                self.completed[operation] += 1


@dataclass(frozen=True)
class RequestPlan:
    """What one model request will do: timing and fault after header overrides."""

    ttft_s: float
    inter_token_s: float
    fault: str | None


def _header_delay(name: str, default_ms: float) -> float:
    raw = request.headers.get(name)
    if raw is None:
        return default_ms / 1000
    try:
        value = float(raw)
    except ValueError:
        raise BadInput(f"{name} must be a number of milliseconds, got {raw!r}") from None
    return check_delay_ms(name, value) / 1000


def request_overrides(settings: Settings) -> RequestPlan:
    """Timing and fault from the request headers; ``fault`` is the raw header (None: absent)."""
    ttft_s = _header_delay(TTFT_HEADER, settings.ttft_ms)
    inter_token_s = _header_delay(INTER_TOKEN_HEADER, settings.inter_token_ms)
    fault = request.headers.get(FAULT_HEADER)
    if fault is not None:
        fault = fault.strip().lower()
        if fault != "none" and fault not in FAULTS:
            raise BadInput(f"{FAULT_HEADER} must be one of {', '.join(FAULTS)} or none")
    return RequestPlan(ttft_s, inter_token_s, fault)


def fault_applies(fault: str, operation: str, guarded: bool) -> bool:
    """mid_stream needs a stream; a guardrail can only intervene where one is configured."""
    if fault == MID_STREAM:
        return operation == "converse_stream"
    if fault == GUARDRAIL:
        return guarded
    return True


def choose_fault(
    state: ServerState, operation: str, header_fault: str | None, guarded: bool = False
) -> str | None:
    """The fault to serve: the header's if present, else the server's (using up the count)."""
    if header_fault is None:
        return state.take_fault(operation, guarded)
    if header_fault == "none" or not fault_applies(header_fault, operation, guarded):
        return None
    state.count_header_fault(header_fault)
    return header_fault


def _path(*parts) -> str:
    return ".".join(str(part) for part in parts)


def _check_text_blocks(blocks, where: str, allow_other: bool) -> None:
    if not isinstance(blocks, list):
        raise BadInput(f"{where} must be a list of content blocks")
    for index, block in enumerate(blocks):
        if not isinstance(block, dict) or not block:
            raise BadInput(f"{_path(where, index)} must be a content block object")
        if "text" in block:
            if not isinstance(block["text"], str) or not block["text"].strip():
                raise BadInput(
                    f"The text field in the ContentBlock object at {_path(where, index)} is "
                    "blank. Add text to the text field, and try again."
                )
        elif not allow_other:
            kind = next(iter(block))
            raise BadInput(
                f"The local model supports text content only; found {kind!r} at "
                f"{_path(where, index)}."
            )


def _check_number(config: dict, name: str, low: float, high: float) -> None:
    value = config.get(name)
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise BadInput(
            f"1 validation error detected: Value {value!r} at 'inferenceConfig.{name}' failed "
            f"to satisfy constraint: Member must be a number between {low:g} and {high:g}"
        )


def validate_guardrail_config(body: dict, operation: str) -> dict | None:
    """The optional guardrailConfig, checked like Bedrock (identifier and version required)."""
    config = body.get("guardrailConfig")
    if config is None:
        return None
    if not isinstance(config, dict):
        raise BadInput("guardrailConfig must be an object")
    for name in ("guardrailIdentifier", "guardrailVersion"):
        value = config.get(name)
        if not isinstance(value, str) or not value.strip():
            raise BadInput(f"guardrailConfig.{name} is required and must be a non-empty string")
    modes = ("sync", "async")
    if "streamProcessingMode" in config:
        if operation != "converse_stream":
            raise BadInput("guardrailConfig.streamProcessingMode is only valid for ConverseStream")
        if config["streamProcessingMode"] not in modes:
            raise BadInput("guardrailConfig.streamProcessingMode must be sync or async")
    return config


def validate_converse_body(body) -> tuple[list, list, int | None]:
    """Check a Converse/ConverseStream body like Bedrock; return (system, messages, maxTokens)."""
    if not isinstance(body, dict):
        raise BadInput("The request body must be a JSON object.")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise BadInput("The messages field is required and must contain at least one message.")
    for index, message in enumerate(messages):
        where = _path("messages", index)
        if not isinstance(message, dict):
            raise BadInput(f"{where} must be a message object")
        role = message.get("role")
        if role not in ("user", "assistant"):
            raise BadInput(f"{where}.role must be user or assistant, got {role!r}")
        expected = "user" if index % 2 == 0 else "assistant"
        if role != expected:
            if index == 0:
                raise BadInput(
                    "A conversation must start with a user message. Try again with a "
                    "conversation that starts with a user message."
                )
            raise BadInput(
                "A conversation must alternate between user and assistant roles. Make sure "
                "the conversation alternates between user and assistant roles and try again."
            )
        content = message.get("content")
        if not isinstance(content, list) or not content:
            raise BadInput(f"{where}.content must be a non-empty list of content blocks")
        _check_text_blocks(content, f"{where}.content", allow_other=False)
    system = body.get("system", [])
    _check_text_blocks(system, "system", allow_other=True)
    config = body.get("inferenceConfig", {})
    if not isinstance(config, dict):
        raise BadInput("inferenceConfig must be an object")
    max_tokens = config.get("maxTokens")
    if max_tokens is not None and (
        isinstance(max_tokens, bool)
        or not isinstance(max_tokens, int)
        or not 1 <= max_tokens <= MAX_OUTPUT_TOKENS
    ):
        raise BadInput(
            f"1 validation error detected: Value {max_tokens!r} at 'inferenceConfig.maxTokens' "
            f"failed to satisfy constraint: Member must be an integer between 1 and "
            f"{MAX_OUTPUT_TOKENS}"
        )
    _check_number(config, "temperature", 0, 1)
    _check_number(config, "topP", 0, 1)
    stops = config.get("stopSequences", [])
    if not isinstance(stops, list) or not all(isinstance(s, str) and s for s in stops):
        raise BadInput("inferenceConfig.stopSequences must be a list of non-empty strings")
    return system, messages, max_tokens


def _json(document: dict, status: int = 200, request_id: str = "", **headers) -> Response:
    response = Response(
        json.dumps(document, separators=(",", ":")), status=status, mimetype="application/json"
    )
    if request_id:
        response.headers["x-amzn-RequestId"] = request_id
    for name, value in headers.items():
        response.headers[name.replace("_", "-")] = value
    return response


def error_response(status: int, error_type: str, message: str, request_id: str) -> Response:
    return _json({"message": message}, status, request_id, x_amzn_ErrorType=error_type)


def _usage(reply: responder.Reply) -> dict:
    return {
        "inputTokens": reply.input_tokens,
        "outputTokens": reply.output_tokens,
        "totalTokens": reply.input_tokens + reply.output_tokens,
    }


def _elapsed_ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def _sleep(seconds: float) -> None:
    if seconds > 0:
        time.sleep(seconds)


def _delta(index: int, text: str) -> bytes:
    return eventstream.event_frame(
        "contentBlockDelta", {"contentBlockIndex": index, "delta": {"text": text}}
    )


def stream_frames(state: ServerState, plan: RequestPlan, reply: responder.Reply, started: float):
    """Yield the ConverseStream frames, sleeping as configured; one write per delta."""
    state.begin()
    completed = False
    try:
        chunks = reply.chunks
        # The mid-stream fault cuts the reply after half of its deltas (at least one).
        cut = max(1, len(chunks) // 2) if plan.fault == MID_STREAM else None
        _sleep(plan.ttft_s)
        start = eventstream.event_frame("messageStart", {"role": "assistant"})
        yield start + _delta(0, chunks[0])
        for position in range(1, len(chunks) + 1):
            if position == cut:
                yield eventstream.exception_frame(
                    MID_STREAM_EXCEPTION,
                    "The model stream was interrupted (local fault injection).",
                    originalStatusCode=500,
                    originalMessage="model stream interrupted",
                )
                return
            if position == len(chunks):
                break
            _sleep(plan.inter_token_s)
            yield _delta(0, chunks[position])
        yield (
            eventstream.event_frame("contentBlockStop", {"contentBlockIndex": 0})
            + eventstream.event_frame("messageStop", {"stopReason": reply.stop_reason})
            + eventstream.event_frame(
                "metadata",
                {"usage": _usage(reply), "metrics": {"latencyMs": _elapsed_ms(started)}},
            )
        )
        completed = True
    finally:
        state.end("converse_stream", completed)


def build_app(settings: Settings | None = None) -> Flask:
    """The WSGI app; ``app.config["LOCAL_BEDROCK_STATE"]`` holds its ServerState."""
    state = ServerState(settings or Settings())
    app = Flask(__name__)
    app.config["LOCAL_BEDROCK_STATE"] = state
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES

    def model_request(operation: str):
        started = time.monotonic()
        request_id = str(uuid.uuid4())
        state.count_request(operation)
        try:
            overrides = request_overrides(state.settings)
            try:
                body = json.loads(request.get_data())
            except (ValueError, UnicodeDecodeError) as error:
                raise BadInput(f"The request body is not valid JSON: {error}") from None
            system, messages, max_tokens = validate_converse_body(body)
            guardrail_config = validate_guardrail_config(body, operation)
        except BadInput as error:
            state.count_validation_error()
            return error_response(400, "ValidationException", str(error), request_id)
        state.record_request(operation, responder.system_text(system), guardrail_config)
        fault = choose_fault(state, operation, overrides.fault, guardrail_config is not None)
        plan = RequestPlan(overrides.ttft_s, overrides.inter_token_s, fault)
        if plan.fault in HTTP_FAULTS:
            status, error_type, message = HTTP_FAULTS[plan.fault]
            return error_response(status, error_type, message, request_id)
        reply = responder.generate(system, messages, max_tokens)
        if plan.fault == GUARDRAIL:
            reply = responder.Reply(
                chunks=tuple(responder.split_chunks(GUARDRAIL_MESSAGE)),
                stop_reason=GUARDRAIL_STOP_REASON,
                input_tokens=reply.input_tokens,
            )
        if operation == "converse_stream":
            return Response(
                stream_frames(state, plan, reply, started),
                mimetype=eventstream.CONTENT_TYPE,
                headers={"x-amzn-RequestId": request_id},
                direct_passthrough=True,
            )
        state.begin()
        completed = False
        try:
            _sleep(plan.ttft_s + plan.inter_token_s * (reply.output_tokens - 1))
            completed = True
        finally:
            state.end(operation, completed)
        document = {
            "output": {"message": {"role": "assistant", "content": [{"text": reply.text}]}},
            "stopReason": reply.stop_reason,
            "usage": _usage(reply),
            "metrics": {"latencyMs": _elapsed_ms(started)},
        }
        return _json(document, request_id=request_id)

    @app.post("/model/<path:model_id>/converse")
    def converse(model_id: str):
        return model_request("converse")

    @app.post("/model/<path:model_id>/converse-stream")
    def converse_stream(model_id: str):
        return model_request("converse_stream")

    @app.get("/_local/health")
    def health():
        return _json({"status": "ok"})

    @app.get("/_local/config")
    def get_config():
        return _json(state.config())

    @app.put("/_local/config")
    def put_config():
        try:
            try:
                document = json.loads(request.get_data())
            except (ValueError, UnicodeDecodeError):
                raise BadInput("the config must be a JSON object") from None
            changes = parse_settings_update(document)
        except BadInput as error:
            return error_response(400, "ValidationException", str(error), "")
        return _json(state.update(changes))

    @app.get("/_local/stats")
    def get_stats():
        return _json(state.stats())

    @app.get("/_local/last-request")
    def get_last_request():
        last = state.last_request
        if last is None:
            return error_response(404, "ResourceNotFoundException", "no model request yet", "")
        return _json(last)

    @app.post("/_local/stats/reset")
    def reset_stats():
        state.reset_stats()
        return _json(state.stats())

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        if error.code in (404, 405):
            message = f"{request.method} {request.path} is not an operation of this server"
            return error_response(error.code, "UnknownOperationException", message, "")
        error_type = "ValidationException" if error.code < 500 else "InternalServerException"
        return error_response(error.code, error_type, error.description or error.name, "")

    @app.errorhandler(Exception)
    def internal(error: Exception):
        app.logger.exception("unhandled error")
        return error_response(500, "InternalServerException", "Internal error.", "")

    return app


def _arg_delay(value: str) -> float:
    try:
        return check_delay_ms("delay", float(value))
    except (ValueError, BadInput) as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _arg_count(value: str) -> int:
    try:
        count = int(value)
    except ValueError:
        count = -1
    if count < 0:
        raise argparse.ArgumentTypeError(f"must be a non-negative integer, got {value!r}")
    return count


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m local_stack.bedrock_server",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", default=DEFAULT_HOST, help="bind address (default %(default)s)")
    parser.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help="port, 0 for a free one (default %(default)s)",
    )
    parser.add_argument(
        "--ttft-ms", type=_arg_delay, default=DEFAULT_TTFT_MS, help="time to first token"
    )
    parser.add_argument(
        "--inter-token-ms", type=_arg_delay, default=DEFAULT_INTER_TOKEN_MS, help="token gap"
    )
    parser.add_argument("--fault", choices=FAULTS, help="fault to inject into model requests")
    parser.add_argument(
        "--fault-count", type=_arg_count, help="fail only the next N requests (default: all)"
    )
    parser.add_argument("--access-log", action="store_true", help="log each request to stderr")
    args = parser.parse_args(argv)
    if args.fault_count is not None and args.fault is None:
        parser.error("--fault-count needs --fault")
    return args


def _raise_open_files_limit() -> None:
    # Each open stream is a socket; the usual soft limit (1024) is below what the server holds.
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if hard == resource.RLIM_INFINITY or hard > soft:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ImportError, ValueError, OSError):
        pass


def serve(args: argparse.Namespace) -> int:
    """Run the server until SIGTERM/SIGINT (needs gevent monkey patching done first)."""
    import signal

    import gevent
    from gevent.event import Event
    from gevent.pywsgi import WSGIServer

    settings = Settings(args.ttft_ms, args.inter_token_ms, args.fault, args.fault_count)
    app = build_app(settings)
    _raise_open_files_limit()
    server = WSGIServer(
        (args.host, args.port),
        app,
        backlog=4096,
        log=sys.stderr if args.access_log else None,
    )
    try:
        server.start()
    except OSError as error:
        print(f"cannot listen on {args.host}:{args.port}: {error}", file=sys.stderr)
        return 1
    # pywsgi writes the headers and the body separately; with Nagle's algorithm the body then
    # waits for the client's delayed ACK (~40 ms a response), a stall real Bedrock does not
    # have. Accepted sockets inherit the option from the listener on Linux.
    import socket

    server.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    stopping = Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        gevent.signal_handler(signum, stopping.set)
    print(f"listening on http://{args.host}:{server.server_port}", flush=True)
    stopping.wait()
    # Stop accepting; streams still open end with the process (clients see a closed connection).
    server.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    return serve(parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
