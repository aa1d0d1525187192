from __future__ import annotations

import json
import re
from collections.abc import Iterator

from flask import Blueprint, Response, g, request, stream_with_context
from pydantic import BaseModel

from ..auth import require_user
from ..errors import InvalidParameter, ValidationFailed
from ..schemas import (
    CURSOR_PATTERN,
    ID_PATTERN,
    ConversationDetail,
    ConversationList,
    ConversationSummary,
    RenameRequest,
)
from ..search import QUERY_MAX_CHARS, search_conversations
from ..store import MESSAGE_PAGE_MAX
from ..titles import TITLE_MAX_CHARS, one_line, user_title
from . import API_PREFIX, parse_body, services

bp = Blueprint("conversations", __name__, url_prefix=API_PREFIX)
MAX_PAGE = 100
DEFAULT_PAGE = 20
# A conversation's emotion trajectory covers at most its newest this many user messages.
TRAJECTORY_MAX = 500
EXPORT_FORMATS = ("json", "markdown")
# Only ASCII digits: str.isdigit() also accepts "²" or "٣", which int() then refuses or reads.
_DIGITS = re.compile(r"[0-9]{1,4}")
_ID = re.compile(ID_PATTERN)
_CURSOR = re.compile(CURSOR_PATTERN)
_PUBLIC_SUMMARY = (
    "conversation_id",
    "title",
    "title_source",
    "created_at",
    "updated_at",
    "message_count",
    "last_emotion",
)


def _public(summary: dict) -> dict:
    public = {key: summary[key] for key in _PUBLIC_SUMMARY if key in summary}
    if "match" in summary:
        public["match"] = summary["match"]
    return public


def _documented(model: type[BaseModel], body: dict) -> dict:
    """`body` as the OpenAPI document's `model` describes it (a field absent from `body`, such
    as a listing's `match`, stays absent rather than null)."""
    return model.model_validate(body).model_dump(mode="json", exclude_unset=True)


def _checked_id(conversation_id: str) -> str:
    # fullmatch: with match(), "$" also matches before a trailing newline.
    if not _ID.fullmatch(conversation_id):
        raise InvalidParameter("conversation_id", "conversation_id must be a ULID.")
    return conversation_id


def _limit(default: int, maximum: int) -> int:
    raw = request.args.get("limit")
    if raw is None:
        return default
    if not _DIGITS.fullmatch(raw) or not 1 <= int(raw) <= maximum:
        raise InvalidParameter("limit", f"limit must be an integer from 1 to {maximum}.")
    return int(raw)


def _cursor(pattern: re.Pattern, description: str) -> str | None:
    raw = request.args.get("cursor")
    if raw is None:
        return None
    if not pattern.fullmatch(raw):
        raise InvalidParameter("cursor", f"cursor must be {description}.")
    return raw


def _query() -> str | None:
    raw = request.args.get("q")
    if raw is None:
        return None
    query = one_line(raw)
    if not query or len(raw) > QUERY_MAX_CHARS:
        raise InvalidParameter(
            "q", f"q must hold 1 to {QUERY_MAX_CHARS} characters, not only spaces."
        )
    return query


@bp.get("/conversations")
@require_user
def list_conversations():
    limit = _limit(DEFAULT_PAGE, MAX_PAGE)
    cursor = _cursor(_CURSOR, "a next_cursor value of this listing")
    query = _query()
    store = services().store
    if query is None:
        items, next_cursor = store.list_conversations(g.user_id, limit=limit, cursor=cursor)
    else:
        items, next_cursor = search_conversations(
            store, g.user_id, query, limit=limit, cursor=cursor
        )
    listing = {"conversations": [_public(item) for item in items], "next_cursor": next_cursor}
    return _documented(ConversationList, listing)


def _trajectory(conversation_id: str) -> list[dict]:
    """The emotions of the user's messages, oldest first (the newest TRAJECTORY_MAX)."""
    points: list[dict] = []
    for item in services().store.iter_messages(
        g.user_id,
        conversation_id,
        newest_first=True,
        fields=("message_id", "role", "created_at", "emotion"),
    ):
        if item.get("role") == "user" and "emotion" in item:
            points.append(
                {
                    "message_id": item["message_id"],
                    "created_at": item["created_at"],
                    "label": item["emotion"]["label"],
                }
            )
            if len(points) >= TRAJECTORY_MAX:
                break
    return points[::-1]


@bp.get("/conversations/<conversation_id>")
@require_user
def get_conversation(conversation_id: str):
    conversation_id = _checked_id(conversation_id)
    limit = _limit(MESSAGE_PAGE_MAX, MESSAGE_PAGE_MAX)
    before = _cursor(_ID, "a next_cursor value of this conversation")
    svc = services()
    summary = svc.store.get_conversation(g.user_id, conversation_id)
    messages, next_cursor = svc.store.messages_page(
        g.user_id, conversation_id, limit=limit, before=before
    )
    body = {**_public(summary), "messages": messages, "next_cursor": next_cursor}
    # The user may turn the mood timeline off: then no trajectory is served.
    if svc.account.settings(g.user_id)["mood_timeline"]:
        body["emotion_trajectory"] = _trajectory(conversation_id)
    return _documented(ConversationDetail, body)


@bp.patch("/conversations/<conversation_id>")
@require_user
def rename_conversation(conversation_id: str):
    conversation_id = _checked_id(conversation_id)
    body = parse_body(RenameRequest)
    title = user_title(body.title)
    if not title:
        raise ValidationFailed(
            details=[
                {
                    "field": "title",
                    "message": f"title must hold 1 to {TITLE_MAX_CHARS} printable characters",
                    "type": "string_too_short",
                }
            ]
        )
    return _documented(
        ConversationSummary, _public(services().store.rename(g.user_id, conversation_id, title))
    )


@bp.delete("/conversations/<conversation_id>")
@require_user
def delete_conversation(conversation_id: str):
    services().store.delete_conversation(g.user_id, _checked_id(conversation_id))
    return "", 204


# --- export --------------------------------------------------------------------------------------


def _export_format() -> str:
    raw = request.args.get("format", "json")
    if raw not in EXPORT_FORMATS:
        raise InvalidParameter("format", "format must be markdown or json.")
    return raw


def conversation_json(summary: dict, messages: Iterator[dict]) -> Iterator[str]:
    """One conversation as a JSON object, written piece by piece."""
    head = json.dumps(_public(summary), ensure_ascii=False)
    yield head[:-1] + ', "messages": ['
    for n, message in enumerate(messages):
        yield ("," if n else "") + json.dumps(message, ensure_ascii=False)
    yield "]}"


def _markdown_line(text: str) -> str:
    # Titles go into a heading: one line, and a leading "#" or markup cannot change its level.
    return one_line(text).replace("\\", "\\\\").replace("#", "\\#") or "(untitled)"


def conversation_markdown(summary: dict, messages: Iterator[dict]) -> Iterator[str]:
    yield f"# {_markdown_line(summary['title'])}\n\n"
    yield f"Started {summary['created_at']}, last active {summary['updated_at']}.\n"
    for message in messages:
        if message["role"] == "user":
            emotion = message.get("emotion", {}).get("label")
            edited = f", edited {message['edited_at']}" if message.get("edited_at") else ""
            yield f"\n## You ({message['created_at']}{edited}; emotion: {emotion})\n\n"
        else:
            rating = message.get("feedback")
            rated = ""
            if rating:
                rated = f"; rated {rating['rating']}"
                if rating.get("comment"):
                    rated += f": {_markdown_line(rating['comment'])}"
            yield f"\n## Assistant ({message['created_at']}{rated})\n\n"
        # The text exactly as written, fenced so its own markup stays text.
        fence = "~~~~"
        while fence in message["text"]:
            fence += "~"
        yield f"{fence}\n{message['text']}\n{fence}\n"


@bp.get("/conversations/<conversation_id>/export")
@require_user
def export_conversation(conversation_id: str):
    conversation_id = _checked_id(conversation_id)
    export_format = _export_format()
    store = services().store
    summary = store.get_conversation(g.user_id, conversation_id)  # 404 before the stream
    messages = store.iter_messages(g.user_id, conversation_id)
    if export_format == "markdown":
        body, mimetype, suffix = conversation_markdown(summary, messages), "text/markdown", "md"
    else:
        body, mimetype, suffix = conversation_json(summary, messages), "application/json", "json"
    return Response(
        stream_with_context(body),
        mimetype=mimetype,
        headers={
            "Content-Disposition": (
                f'attachment; filename="conversation-{conversation_id}.{suffix}"'
            ),
            "Cache-Control": "no-store",
        },
    )
