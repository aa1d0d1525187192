from __future__ import annotations

import re

from flask import Blueprint, g, request

from ..auth import require_user
from ..errors import InvalidParameter
from ..schemas import CURSOR_PATTERN, ID_PATTERN
from ..store import MESSAGE_PAGE_MAX
from . import API_PREFIX, services

bp = Blueprint("conversations", __name__, url_prefix=API_PREFIX)
MAX_PAGE = 100
DEFAULT_PAGE = 20
# Only ASCII digits: str.isdigit() also accepts "²" or "٣", which int() then refuses or reads.
_DIGITS = re.compile(r"[0-9]{1,4}")
_ID = re.compile(ID_PATTERN)
_CURSOR = re.compile(CURSOR_PATTERN)


def _public(summary: dict) -> dict:
    return {key: value for key, value in summary.items() if key != "recent_emotions"}


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


@bp.get("/conversations")
@require_user
def list_conversations():
    limit = _limit(DEFAULT_PAGE, MAX_PAGE)
    cursor = _cursor(_CURSOR, "a next_cursor value of this listing")
    items, next_cursor = services().store.list_conversations(g.user_id, limit=limit, cursor=cursor)
    return {"conversations": [_public(item) for item in items], "next_cursor": next_cursor}


@bp.get("/conversations/<conversation_id>")
@require_user
def get_conversation(conversation_id: str):
    conversation_id = _checked_id(conversation_id)
    limit = _limit(MESSAGE_PAGE_MAX, MESSAGE_PAGE_MAX)
    before = _cursor(_ID, "a next_cursor value of this conversation")
    store = services().store
    summary = store.get_conversation(g.user_id, conversation_id)
    messages, next_cursor = store.messages_page(
        g.user_id, conversation_id, limit=limit, before=before
    )
    return {**_public(summary), "messages": messages, "next_cursor": next_cursor}


@bp.delete("/conversations/<conversation_id>")
@require_user
def delete_conversation(conversation_id: str):
    services().store.delete_conversation(g.user_id, _checked_id(conversation_id))
    return "", 204
