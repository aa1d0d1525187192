"""A reply as Server-Sent Events: `meta`, `delta`s, then `done` once the reply is stored, or
`error` (nothing stored). Shared by /chat/stream, regenerate and edit."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator

from flask import Response, g, stream_with_context
from pydantic import BaseModel

from ..bedrock import Delta, Done, GuardrailIntervened
from ..chat_service import PreparedTurn, StreamOutcome
from ..errors import ApiError
from ..ids import new_id
from ..safety import CRISIS_SUPPORT, crisis_suffix
from ..schemas import ChatResponse, StreamDone, StreamError, StreamMeta
from ..timing import current as current_timing
from ..timing import span, timed_items
from . import services

log = logging.getLogger("chat_api.routes.chat")
REPLAYED_HEADER = "Idempotent-Replayed"
# The access log line of a streamed response is written when it ends, with these fields added
# (chat_api.logs reads the response's `log_fields`).
LOG_FIELDS = "log_fields"

# save(message_id, text, done): stores the reply; raises an ApiError when it cannot.
Save = Callable[[str, str, Done], None]


def sse(event: str, data: BaseModel | dict) -> str:
    if isinstance(data, BaseModel):
        data = data.model_dump(mode="json")
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


def refusal(prep: PreparedTurn) -> GuardrailIntervened:
    """The guardrail's refusal; a message at risk still gets the crisis-support guidance."""
    if prep.safety.flagged:
        return GuardrailIntervened(f"{GuardrailIntervened.message}\n\n{CRISIS_SUPPORT}")
    return GuardrailIntervened()


def _event_stream(body: Iterator[str], fields: dict, headers: dict) -> Response:
    response = Response(stream_with_context(body), mimetype="text/event-stream", headers=headers)
    setattr(response, LOG_FIELDS, fields)
    return response


def replayed_stream(answer: ChatResponse) -> Response:
    """The stored turn as a stream: meta, the whole reply as one delta, done."""
    events = [
        sse(
            "meta",
            StreamMeta.model_validate(answer.model_dump(include=set(StreamMeta.model_fields))),
        ),
        sse("delta", {"text": answer.reply}),
        sse(
            "done",
            StreamDone.model_validate(answer.model_dump(include=set(StreamDone.model_fields))),
        ),
    ]
    fields = {"stream_outcome": StreamOutcome.REPLAYED.value}
    headers = {"Cache-Control": "no-cache", REPLAYED_HEADER: "true"}
    return _event_stream(iter(events), fields, headers)


def stream_reply(
    prep: PreparedTurn, admission, save: Save, after: Callable[[str], None] | None = None
) -> Response:
    """Opens the model's stream and answers with its events; `after(text)` runs once `done`
    is sent. The stream's slot (`admission`) is given back however the stream ends."""
    svc = services()
    try:
        # Opened before the response starts, so throttling or an outage is still a plain HTTP
        # error (429 with Retry-After, 503, 504) that clients can retry.
        try:
            with span("model"):
                stream = svc.bedrock.open_stream(prep.request.system, prep.request.messages)
        except GuardrailIntervened:
            raise refusal(prep) from None
    except BaseException:
        admission.release()
        raise
    message_id = new_id()
    meta = StreamMeta(
        conversation_id=prep.conversation_id,
        message_id=message_id,
        user_message_id=prep.user_message_id,
        emotion=prep.emotion.as_dict(),
        safety=prep.safety.as_dict(),
        model_id=svc.bedrock.model_id,
    )
    # Until the reply is stored, a stream that stops ended because the client went away.
    fields = {"stream_outcome": StreamOutcome.CLIENT_GONE.value}

    def events() -> Iterator[str]:
        yield sse("meta", meta)
        parts: list[str] = []
        try:
            for item in timed_items(stream, "model"):
                if isinstance(item, Delta):
                    parts.append(item.text)
                    yield sse("delta", {"text": item.text})
                elif isinstance(item, Done):
                    # The tokens are counted and the stream's slot given back in one write.
                    admission.record_tokens(item.usage)
                    suffix = crisis_suffix("".join(parts)) if prep.safety.flagged else ""
                    if suffix:
                        parts.append(suffix)
                        yield sse("delta", {"text": suffix})
                    save(message_id, "".join(parts), item)
                    fields["stream_outcome"] = StreamOutcome.COMPLETED.value
                    timing = current_timing()
                    done = StreamDone(
                        usage=item.usage,
                        stop_reason=item.stop_reason,
                        model_latency_ms=item.model_latency_ms,
                        # The spans until now; the log line has the whole request's.
                        server_timing=timing.snapshot() if timing else None,
                    )
                    yield sse("done", done)
        except ApiError as exc:
            if isinstance(exc, GuardrailIntervened):
                exc = refusal(prep)
            fields["stream_outcome"] = StreamOutcome.FAILED.value
            fields["error_code"] = exc.code
            log.warning("stream failed", extra={"error_code": exc.code})
            error = StreamError(code=exc.code, message=exc.message, request_id=g.get("request_id"))
            yield sse("error", error)
        finally:
            stream.close()
            admission.release()
        if fields["stream_outcome"] == StreamOutcome.COMPLETED and after is not None:
            after("".join(parts))

    response = _event_stream(
        events(), fields, {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    )
    # The server closes the response when the stream ends or the client goes away, even if the
    # generator never started; the slot is given back either way (release happens once).
    response.call_on_close(admission.release)
    return response
