from __future__ import annotations

import re

from flask import Blueprint, g, request

from ..auth import require_user
from ..errors import NotFound, ValidationFailed
from ..schemas import ID_PATTERN
from . import API_PREFIX, services

bp = Blueprint("conversations", __name__, url_prefix=API_PREFIX)
MAX_PAGE = 100
DEFAULT_PAGE = 20
_ID = re.compile(ID_PATTERN)


def _public(summary: dict) -> dict:
    return {key: value for key, value in summary.items() if key != "recent_emotions"}


def _checked_id(conversation_id: str) -> str:
    if not _ID.match(conversation_id):
        raise NotFound("No such conversation.")
    return conversation_id


@bp.get("/conversations")
@require_user
def list_conversations():
    raw_limit = request.args.get("limit", str(DEFAULT_PAGE))
    if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= MAX_PAGE:
        raise ValidationFailed(
            f"limit must be an integer from 1 to {MAX_PAGE}.", details=[{"field": "limit"}]
        )
    items, cursor = services().store.list_conversations(
        g.user_id, limit=int(raw_limit), cursor=request.args.get("cursor") or None
    )
    return {"conversations": [_public(item) for item in items], "next_cursor": cursor}


@bp.get("/conversations/<conversation_id>")
@require_user
def get_conversation(conversation_id: str):
    store = services().store
    summary = store.get_conversation(g.user_id, _checked_id(conversation_id))
    messages = store.all_messages(g.user_id, conversation_id)
    return {**_public(summary), "messages": messages}


@bp.delete("/conversations/<conversation_id>")
@require_user
def delete_conversation(conversation_id: str):
    services().store.delete_conversation(g.user_id, _checked_id(conversation_id))
    return "", 204
