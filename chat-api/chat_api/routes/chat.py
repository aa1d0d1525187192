from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

from flask import Blueprint, Response, g

from ..auth import require_user
from ..bedrock import Done, GuardrailIntervened
from ..chat_service import PreparedTurn, generate_conversation, get_chatbot_response
from ..emotion import Emotion
from ..errors import ApiError, Conflict, IdempotencyKeyReused, NotFound, RequestAlreadyAnswered
from ..ids import new_id
from ..limits import Admission
from ..prompts import with_safety_note
from ..safety import NOT_FLAGGED, SafetyAssessment, assess, stored_level, with_crisis_support
from ..schemas import ChatRequest, ChatResponse, EditRequest
from ..store import RECENT_EMOTIONS_KEPT, TurnAlreadyStored, emotion_attr, now_iso
from ..timing import span
from ..titles import fallback_title, generate_title
from . import API_PREFIX, idempotency_key, parse_body, services
from .conversations import _checked_id
from .streaming import REPLAYED_HEADER, refusal, replayed_stream, stream_reply

bp = Blueprint("chat", __name__, url_prefix=API_PREFIX)
log = logging.getLogger(__name__)
# What a stored reply without its usage (stored before usage was kept) answers with.
_NO_USAGE = {"input_tokens": 0, "output_tokens": 0, "total_tokens": 0}


def _prepared(
    conversation_id: str,
    history: list[dict],
    text: str,
    *,
    user_message_id: str,
    user_created_at: str,
    trajectory: list[str],
    existing: dict | None,
    analysed: tuple[Emotion, SafetyAssessment] | None = None,
    idempotency_key: str | None = None,
) -> PreparedTurn:
    """The turn before the model call: the message's emotion and risk (`analysed` when already
    known) and the prompt built from the history and the emotions before it (`trajectory`)."""
    emotion, safety = analysed or _analyse(text, history)
    return PreparedTurn(
        user_id=g.user_id,
        conversation_id=conversation_id,
        user_message_id=user_message_id,
        user_text=text,
        user_created_at=user_created_at,
        emotion=emotion,
        safety=safety,
        request=_conversation(history, text, emotion, safety, trajectory),
        existing=existing,
        idempotency_key=idempotency_key,
    )


def _prepare(body: ChatRequest, key: str | None) -> PreparedTurn:
    """A new message: the conversation (read when continued), ids, emotion, prompt."""
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
    return _prepared(
        conversation_id,
        history,
        body.message,
        user_message_id=new_id(),
        user_created_at=now_iso(),
        trajectory=(existing or {}).get("recent_emotions", []),
        existing=existing,
        idempotency_key=key,
    )


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


def _stored_turn(body: ChatRequest, key: str | None) -> ChatResponse | None:
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
    return ChatResponse(
        conversation_id=stored["conversation_id"],
        message_id=reply["message_id"],
        user_message_id=user["message_id"],
        reply=reply["text"],
        emotion=user["emotion"],
        safety=user.get("safety") or NOT_FLAGGED.as_dict(),
        model_id=reply.get("model_id") or services().bedrock.model_id,
        usage=reply.get("usage") or _NO_USAGE,
        stop_reason=reply.get("stop_reason", "end_turn"),
        model_latency_ms=None,
    )


def _replayed(answer: ChatResponse):
    return answer.model_dump(mode="json"), 200, {REPLAYED_HEADER: "true"}


@contextmanager
def _admitted(*, stream: bool) -> Iterator[Admission]:
    """Counts the message against the caller's limits (429 and nothing else if refused). A
    failure inside the block (preparing the turn) gives the stream slot back; once the block
    is done, the reply owns the admission."""
    admission = services().limiter.admit(g.user_id, g.principal.tier, stream=stream)
    try:
        yield admission
    except BaseException:
        admission.release()
        raise


@bp.post("/chat")
@require_user
def chat():
    body = parse_body(ChatRequest)
    key = idempotency_key()
    stored = _stored_turn(body, key)
    if stored is not None:
        return _replayed(stored)
    with _admitted(stream=False) as admission:
        prep = _prepare(body, key)
    svc = services()
    try:
        with span("model"):
            reply = get_chatbot_response(svc.bedrock, prep.request)
    except GuardrailIntervened:
        raise refusal(prep) from None
    # The guidance is added whatever the model said.
    text = with_crisis_support(reply.text) if prep.safety.flagged else reply.text
    message_id = new_id()
    usage = reply.usage
    try:
        svc.store.save_turn(
            prep.turn(
                message_id=message_id,
                reply=text,
                model_id=svc.bedrock.model_id,
                ending=reply,
            ),
            prep.existing,
        )
        if prep.existing is None and svc.settings.title_max_tokens:
            usage = _sum_usage(usage, _title_new_conversation(prep, text))
    except TurnAlreadyStored:
        # A retry of this request got there first: its turn is the one stored, and returned.
        return _replayed(_stored_turn(body, key))
    finally:
        # The reply's tokens and the title's, counted in one write whatever happened since.
        admission.record_tokens(usage)
    return ChatResponse(
        conversation_id=prep.conversation_id,
        message_id=message_id,
        user_message_id=prep.user_message_id,
        reply=text,
        emotion=prep.emotion.as_dict(),
        safety=prep.safety.as_dict(),
        model_id=svc.bedrock.model_id,
        usage=reply.usage,
        stop_reason=reply.stop_reason,
        model_latency_ms=reply.model_latency_ms,
    ).model_dump(mode="json")


def _sum_usage(first: dict, second: dict | None) -> dict:
    if not second:
        return first
    return {name: first.get(name, 0) + second.get(name, 0) for name in _NO_USAGE}


def _title_new_conversation(prep: PreparedTurn, reply: str) -> dict | None:
    """Replaces a new conversation's fallback title (its first words) with the model's, asked
    for with a small token budget; returns the tokens it took (they count against the caller's
    daily quota)."""
    svc = services()
    # A model call like the reply's: its wait is the model's time, not the API's own.
    with span("model"):
        title, usage = generate_title(
            svc.bedrock, prep.user_text, reply, max_tokens=svc.settings.title_max_tokens
        )
    if title:
        try:
            svc.store.set_generated_title(
                prep.user_id,
                prep.conversation_id,
                title,
                replacing=fallback_title(prep.user_text),
            )
        except ApiError as exc:
            # The reply is stored and delivered; the first words stay the title.
            log.warning("title not stored", extra={"error_code": exc.code})
    return usage


@bp.post("/chat/stream")
@require_user
def chat_stream():
    body = parse_body(ChatRequest)
    key = idempotency_key()
    stored = _stored_turn(body, key)
    if stored is not None:
        return replayed_stream(stored)
    # Refused before the stream starts: a plain 429 JSON response, not an SSE event.
    with _admitted(stream=True) as admission:
        prep = _prepare(body, key)
    svc = services()

    def save(message_id: str, text: str, done: Done) -> None:
        turn = prep.turn(
            message_id=message_id,
            reply=text,
            model_id=svc.bedrock.model_id,
            ending=done,
        )
        try:
            svc.store.save_turn(turn, prep.existing)
        except TurnAlreadyStored:
            raise RequestAlreadyAnswered() from None

    after = None
    if prep.existing is None and svc.settings.title_max_tokens:

        def after(text: str) -> None:
            usage = _title_new_conversation(prep, text)
            if usage:
                svc.limiter.record_tokens(prep.user_id, usage)

    return stream_reply(prep, admission, save, after)


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


def _prepared_again(
    summary: dict,
    history: list[dict],
    user_message: dict,
    text: str,
    analysed: tuple[Emotion, SafetyAssessment] | None = None,
) -> PreparedTurn:
    """The last turn's user message (`text`: as stored or as edited) prepared again, under its
    stored id and time."""
    return _prepared(
        summary["conversation_id"],
        history,
        text,
        user_message_id=user_message["message_id"],
        user_created_at=user_message["created_at"],
        # The trajectory already ends with this message's emotion.
        trajectory=summary.get("recent_emotions", [])[:-1],
        existing=summary,
        analysed=analysed,
    )


def _replace_reply(
    prep: PreparedTurn, old_reply: dict, admission, *, edited: dict | None = None
) -> Response:
    """Streams a new reply to the last user message and stores it in place of `old_reply`
    (with the edited message when given), unless the conversation changed meanwhile (409)."""
    svc = services()
    recent = None
    if edited is not None:
        trajectory = prep.existing.get("recent_emotions", [])[:-1]
        recent = [*trajectory, prep.emotion.label][-RECENT_EMOTIONS_KEPT:]

    def save(message_id: str, text: str, done: Done) -> None:
        svc.store.replace_last_reply(
            prep.user_id,
            prep.conversation_id,
            seen_count=prep.existing["message_count"],
            old_reply_id=old_reply["message_id"],
            reply=prep.turn(
                message_id=message_id,
                reply=text,
                model_id=svc.bedrock.model_id,
                ending=done,
            ),
            edited_user_message=edited,
            recent_emotions=recent,
        )

    return stream_reply(prep, admission, save)


@bp.post("/conversations/<conversation_id>/regenerate")
@require_user
def regenerate(conversation_id: str):
    conversation_id = _checked_id(conversation_id)
    summary, history, user_message, old_reply = _last_turn(conversation_id)
    with _admitted(stream=True) as admission:
        prep = _prepared_again(
            summary,
            history,
            user_message,
            user_message["text"],
            analysed=(
                _stored_emotion(user_message),
                SafetyAssessment(level=stored_level(user_message.get("safety"))),
            ),
        )
    return _replace_reply(prep, old_reply, admission)


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
    with _admitted(stream=True) as admission:
        prep = _prepared_again(summary, history, user_message, body.message)
    edited = {
        "message_id": prep.user_message_id,
        "role": "user",
        "text": prep.user_text,
        "created_at": prep.user_created_at,
        "edited_at": now_iso(),
        "emotion": emotion_attr(prep.emotion),
        "safety": prep.safety.as_dict(),
    }
    return _replace_reply(prep, old_reply, admission, edited=edited)
