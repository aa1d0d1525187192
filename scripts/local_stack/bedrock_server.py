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
import sys
import time
import uuid

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException

from local_stack import eventstream, responder
from local_stack.bedrock_control import (
    DEFAULT_INTER_TOKEN_MS,
    DEFAULT_TTFT_MS,
    FAULTS,
    GUARDRAIL,
    GUARDRAIL_MESSAGE,
    GUARDRAIL_STOP_REASON,
    HTTP_FAULTS,
    MID_STREAM,
    MID_STREAM_EXCEPTION,
    BadInput,
    ServerState,
    Settings,
    check_delay_ms,
    parse_settings_update,
)
from local_stack.bedrock_requests import (
    RequestPlan,
    request_overrides,
    validate_converse_body,
    validate_guardrail_config,
)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 4567
MAX_BODY_BYTES = 10 * 1024 * 1024


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
        fault = state.choose_fault(operation, overrides.fault, guardrail_config is not None)
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
