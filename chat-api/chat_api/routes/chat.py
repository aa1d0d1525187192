from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import replace

from flask import Blueprint, Response, g, stream_with_context

from ..auth import require_user
from ..bedrock import Delta, Done, GuardrailIntervened
from ..chat_service import generate_conversation, get_chatbot_response
from ..emotion import Emotion
from ..errors import ApiError, Conflict, IdempotencyKeyReused, NotFound, RequestAlreadyAnswered
from ..ids import new_id
from ..prompts import with_safety_note
from ..safety import (
    CRISIS_SUPPORT,
    NOT_FLAGGED,
    SafetyAssessment,
    assess,
    crisis_suffix,
    stored_level,
    with_crisis_support,
)
from ..schemas import ChatRequest, EditRequest
from ..store import RECENT_EMOTIONS_KEPT, Turn, TurnAlreadyStored, emotion_attr, now_iso
from ..timing import current as current_timing
from ..timing import span, timed_items
from ..titles import fallback_title, generate_title
from . import API_PREFIX, idempotency_key, parse_body, services
from .conversations import _checked_id

bp = Blueprint("chat", __name__, url_prefix=API_PREFIX)
log = logging.getLogger(__name__)


def _prepare(body: ChatRequest) -> dict:
    """Everything before the model call: conversation, emotion, history, prompt, ids."""
    svc = services()
    existing = None
    history: list[dict] = []
    conversation_id = body.conversation_id
    if conversation_id:
        existing, history = svc.store.conversation_with_recent(
            g.user_id, conversation_id, limit=2 * svc.settings.history_max_turns
        )
    else:
        conversation_id = new_id()
    trajectory = (existing or {}).get("recent_emotions", [])
    emotion, safety = _analyse(body.message, history)
    return {
        "existing": existing,
        "conversation_id": conversation_id,
        "user_message_id": new_id(),
        "user_created_at": now_iso(),
        "emotion": emotion,
        "safety": safety,
        "conversation": _conversation(history, body.message, emotion, safety, trajectory),
    }


def _analyse(text: str, history: list[dict]) -> tuple[Emotion, SafetyAssessment]:
    # One sentence-encoder pass gives both the emotion and the risk classifier's features.
    with span("emotion"):
        emotion, states = services().detector.analyse(text)
        safety = assess(
            text,
            states,
            previous_levels=[stored_level(m.get("safety")) for m in history if m["role"] == "user"],
        )
    return emotion, safety


def _conversation(
    history: list[dict],
    text: str,
    emotion: Emotion,
    safety: SafetyAssessment,
    trajectory: list[str],
):
    settings = services().settings
    conversation = generate_conversation(
        history,
        text,
        emotion,
        trajectory=trajectory,
        max_turns=settings.history_max_turns,
        max_chars=settings.history_max_chars,
    )
    if safety.level != "none":
        conversation = replace(
            conversation, system=with_safety_note(conversation.system, safety.level)
        )
    return conversation


def _refusal(prep: dict) -> GuardrailIntervened:
    """The guardrail's refusal; a message at risk still gets the crisis-support guidance."""
    if prep["safety"].flagged:
        return GuardrailIntervened(f"{GuardrailIntervened.message}\n\n{CRISIS_SUPPORT}")
    return GuardrailIntervened()


def _turn(
    prep: dict, message_id: str, text: str, reply: str, usage: dict, stop: str, key: str | None
) -> Turn:
    return Turn(
        user_id=g.user_id,
        conversation_id=prep["conversation_id"],
        user_message_id=prep["user_message_id"],
        user_text=text,
        user_created_at=prep["user_created_at"],
        emotion=prep["emotion"],
        assistant_message_id=message_id,
        reply=reply,
        model_id=services().bedrock.model_id,
        usage=usage,
        stop_reason=stop,
        safety=prep["safety"],
        idempotency_key=key,
    )


REPLAYED_HEADER = "Idempotent-Replayed"


def _stored_turn(body: ChatRequest, key: str | None) -> dict | None:
    """The /chat answer of the turn an earlier request with this key stored (None: none did).

    A retry must be the same request: another message or conversation is 422."""
    if key is None:
        return None
    stored = services().store.find_turn(g.user_id, key)
    if stored is None:
        return None
    user, reply = stored["user"], stored["reply"]
    if user["text"] != body.message or body.conversation_id not in (
        None,
        stored["conversation_id"],
    ):
        raise IdempotencyKeyReused("This idempotency key was sent with another message.")
    return {
        "conversation_id": stored["conversation_id"],
        "message_id": reply["message_id"],
        "user_message_id": user["message_id"],
        "reply": reply["text"],
        "emotion": user["emotion"],
        "safety": user.get("safety") or NOT_FLAGGED.as_dict(),
        "model_id": reply.get("model_id") or services().bedrock.model_id,
        "usage": reply.get("usage") or {},
        "stop_reason": reply.get("stop_reason", "end_turn"),
        "model_latency_ms": None,
    }


def _replayed_stream(answer: dict) -> Response:
    """The stored turn as a stream: meta, the whole reply as one delta, done."""
    meta = ("conversation_id", "message_id", "user_message_id", "emotion", "safety", "model_id")
    events = [
        _sse("meta", {name: answer[name] for name in meta}),
        _sse("delta", {"text": answer["reply"]}),
        _sse("done", {name: answer[name] for name in ("usage", "stop_reason", "model_latency_ms")}),
    ]
    return Response(
        events,
        mimetype="text/event-stream",
        headers={"Cache-Control": "no-cache", REPLAYED_HEADER: "true"},
    )


def _admit(*, stream: bool):
    """Counts the message against the caller's limits (429 and nothing else if refused)."""
    return services().limiter.admit(g.user_id, g.principal.tier, stream=stream)


@bp.post("/chat")
@require_user
def chat():
    body = parse_body(ChatRequest)
    key = idempotency_key()
    stored = _stored_turn(body, key)
    if stored is not None:
        return stored, 200, {REPLAYED_HEADER: "true"}
    _admit(stream=False)
    prep = _prepare(body)
    svc = services()
    try:
        with span("model"):
            reply = get_chatbot_response(svc.bedrock, prep["conversation"])
    except GuardrailIntervened:
        raise _refusal(prep) from None
    svc.limiter.record_tokens(g.user_id, reply.usage)
    # The guidance is added whatever the model said.
    text = with_crisis_support(reply.text) if prep["safety"].flagged else reply.text
    message_id = new_id()
    try:
        svc.store.save_turn(
            _turn(prep, message_id, body.message, text, reply.usage, reply.stop_reason, key),
            prep["existing"],
        )
    except TurnAlreadyStored:
        # A retry of this request got there first: its turn is the one stored, and returned.
        return _stored_turn(body, key), 200, {REPLAYED_HEADER: "true"}
    if prep["existing"] is None and svc.settings.title_max_tokens:
        _title_new_conversation(prep["conversation_id"], body.message, text)
    return {
        "conversation_id": prep["conversation_id"],
        "message_id": message_id,
        "user_message_id": prep["user_message_id"],
        "reply": text,
        "emotion": prep["emotion"].as_dict(),
        "safety": prep["safety"].as_dict(),
        "model_id": svc.bedrock.model_id,
        "usage": reply.usage,
        "stop_reason": reply.stop_reason,
        "model_latency_ms": reply.model_latency_ms,
    }


def _sse(event: str, data: dict) -> str:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


def _title_new_conversation(conversation_id: str, first_message: str, reply: str) -> None:
    """Replaces a new conversation's fallback title (its first words) with the model's, asked
    for with a small token budget; the tokens count against the caller's daily quota."""
    svc = services()
    title, usage = generate_title(
        svc.bedrock, first_message, reply, max_tokens=svc.settings.title_max_tokens
    )
    if usage:
        svc.limiter.record_tokens(g.user_id, usage)
    if title:
        try:
            svc.store.set_generated_title(
                g.user_id, conversation_id, title, replacing=fallback_title(first_message)
            )
        except ApiError as exc:
            # The reply is stored and delivered; the first words stay the title.
            log.warning("title not stored", extra={"error_code": exc.code})


def _stream_reply(
    prep: dict,
    admission,
    save: Callable[[str, str, dict, str], None],
    after: Callable[[str], None] | None = None,
) -> Response:
    """Opens the model's stream and answers with the SSE events of /chat/stream: `meta`,
    `delta`s, then `done` once `save(message_id, text, usage, stop_reason)` has stored the
    reply, or `error` (nothing stored). `after(text)` runs once `done` is sent."""
    svc = services()
    try:
        # Opened before the response starts, so throttling or an outage is still a plain HTTP
        # error (429 with Retry-After, 503, 504) that clients can retry.
        try:
            with span("model"):
                stream = svc.bedrock.open_stream(
                    prep["conversation"].system, prep["conversation"].messages
                )
        except GuardrailIntervened:
            raise _refusal(prep) from None
    except BaseException:
        admission.release()
        raise
    message_id = new_id()
    user_id = g.user_id

    def events() -> Iterator[str]:
        yield _sse(
            "meta",
            {
                "conversation_id": prep["conversation_id"],
                "message_id": message_id,
                "user_message_id": prep["user_message_id"],
                "emotion": prep["emotion"].as_dict(),
                "safety": prep["safety"].as_dict(),
                "model_id": svc.bedrock.model_id,
            },
        )
        parts: list[str] = []
        saved = False
        try:
            for item in timed_items(stream, "model"):
                if isinstance(item, Delta):
                    parts.append(item.text)
                    yield _sse("delta", {"text": item.text})
                elif isinstance(item, Done):
                    svc.limiter.record_tokens(user_id, item.usage)
                    suffix = crisis_suffix("".join(parts)) if prep["safety"].flagged else ""
                    if suffix:
                        parts.append(suffix)
                        yield _sse("delta", {"text": suffix})
                    save(message_id, "".join(parts), item.usage, item.stop_reason)
                    saved = True
                    timing = current_timing()
                    yield _sse(
                        "done",
                        {
                            "usage": item.usage,
                            "stop_reason": item.stop_reason,
                            "model_latency_ms": item.model_latency_ms,
                            # The spans until now; the log line has the whole request's.
                            "server_timing": timing.snapshot() if timing else None,
                        },
                    )
        except ApiError as exc:
            if isinstance(exc, GuardrailIntervened):
                exc = _refusal(prep)
            log.warning("stream failed", extra={"error_code": exc.code})
            yield _sse(
                "error",
                {"code": exc.code, "message": exc.message, "request_id": g.get("request_id")},
            )
        finally:
            stream.close()
            admission.release()
        if saved and after is not None:
            after("".join(parts))

    response = Response(
        stream_with_context(events()),
        mimetype="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
    # The server closes the response when the stream ends or the client goes away, even if the
    # generator never started; the slot is given back either way (release happens once).
    response.call_on_close(admission.release)
    return response


@bp.post("/chat/stream")
@require_user
def chat_stream():
    body = parse_body(ChatRequest)
    key = idempotency_key()
    stored = _stored_turn(body, key)
    if stored is not None:
        return _replayed_stream(stored)
    # Refused before the stream starts: a plain 429 JSON response, not an SSE event.
    admission = _admit(stream=True)
    try:
        prep = _prepare(body)
    except BaseException:
        admission.release()
        raise

    def save(message_id: str, text: str, usage: dict, stop_reason: str) -> None:
        try:
            services().store.save_turn(
                _turn(prep, message_id, body.message, text, usage, stop_reason, key),
                prep["existing"],
            )
        except TurnAlreadyStored:
            raise RequestAlreadyAnswered() from None

    after = None
    if prep["existing"] is None and services().settings.title_max_tokens:

        def after(text: str) -> None:
            _title_new_conversation(prep["conversation_id"], body.message, text)

    return _stream_reply(prep, admission, save, after)


# --- regenerate and edit: the last turn only --------------------------------------------------


def _last_turn(conversation_id: str) -> tuple[dict, list[dict], dict, dict]:
    """The summary, the history before the last turn, and the last turn's user message and
    reply (raw items); 409 when the conversation does not end with a complete turn."""
    svc = services()
    summary, recent = svc.store.conversation_with_recent(
        g.user_id, conversation_id, limit=2 * svc.settings.history_max_turns + 2
    )
    if len(recent) < 2 or recent[-2]["role"] != "user" or recent[-1]["role"] != "assistant":
        raise Conflict(
            "The conversation does not end with a reply to a message of yours.",
            code="no_last_turn",
        )
    return summary, recent[:-2], recent[-2], recent[-1]


def _stored_emotion(message: dict) -> Emotion:
    stored = message.get("emotion") or {}
    return Emotion(label=stored.get("label", "neutral"), scores=stored.get("scores", {}))


@bp.post("/conversations/<conversation_id>/regenerate")
@require_user
def regenerate(conversation_id: str):
    conversation_id = _checked_id(conversation_id)
    summary, history, user_message, old_reply = _last_turn(conversation_id)
    admission = _admit(stream=True)
    try:
        emotion = _stored_emotion(user_message)
        safety = SafetyAssessment(level=stored_level(user_message.get("safety")))
        trajectory = summary.get("recent_emotions", [])
        prep = {
            "conversation_id": conversation_id,
            "user_message_id": user_message["message_id"],
            "emotion": emotion,
            "safety": safety,
            # The trajectory already ends with this message's emotion.
            "conversation": _conversation(
                history, user_message["text"], emotion, safety, trajectory[:-1]
            ),
        }
    except BaseException:
        admission.release()
        raise

    def save(message_id: str, text: str, usage: dict, stop_reason: str) -> None:
        services().store.replace_last_reply(
            g.user_id,
            conversation_id,
            seen_count=summary["message_count"],
            old_reply_id=old_reply["message_id"],
            reply=_reply_turn(prep, message_id, user_message, text, usage, stop_reason),
        )

    return _stream_reply(prep, admission, save)


@bp.post("/conversations/<conversation_id>/edit")
@require_user
def edit(conversation_id: str):
    conversation_id = _checked_id(conversation_id)
    body = parse_body(EditRequest)
    summary, history, user_message, old_reply = _last_turn(conversation_id)
    if body.message_id != user_message["message_id"]:
        if services().store.get_message(g.user_id, conversation_id, body.message_id) is None:
            raise NotFound("No such message in this conversation.")
        raise Conflict(
            "Only your last message can be edited; earlier messages cannot.",
            code="not_last_message",
        )
    admission = _admit(stream=True)
    try:
        emotion, safety = _analyse(body.message, history)
        trajectory = summary.get("recent_emotions", [])[:-1]
        prep = {
            "conversation_id": conversation_id,
            "user_message_id": user_message["message_id"],
            "emotion": emotion,
            "safety": safety,
            "conversation": _conversation(history, body.message, emotion, safety, trajectory),
        }
    except BaseException:
        admission.release()
        raise
    edited = {
        "message_id": user_message["message_id"],
        "role": "user",
        "text": body.message,
        "created_at": user_message["created_at"],
        "edited_at": now_iso(),
        "emotion": emotion_attr(emotion),
        "safety": safety.as_dict(),
    }

    def save(message_id: str, text: str, usage: dict, stop_reason: str) -> None:
        services().store.replace_last_reply(
            g.user_id,
            conversation_id,
            seen_count=summary["message_count"],
            old_reply_id=old_reply["message_id"],
            reply=_reply_turn(prep, message_id, user_message, text, usage, stop_reason),
            edited_user_message=edited,
            recent_emotions=[*trajectory, emotion.label][-RECENT_EMOTIONS_KEPT:],
        )

    return _stream_reply(prep, admission, save)


def _reply_turn(
    prep: dict, message_id: str, user_message: dict, text: str, usage: dict, stop_reason: str
) -> Turn:
    return Turn(
        user_id=g.user_id,
        conversation_id=prep["conversation_id"],
        user_message_id=user_message["message_id"],
        user_text=user_message["text"],
        user_created_at=user_message["created_at"],
        emotion=prep["emotion"],
        assistant_message_id=message_id,
        reply=text,
        model_id=services().bedrock.model_id,
        usage=usage,
        stop_reason=stop_reason,
        safety=prep["safety"],
    )
