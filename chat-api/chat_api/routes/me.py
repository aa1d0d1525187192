"""The caller's account: settings, mood timeline, export of everything, deletion."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator

from flask import Blueprint, Response, g, jsonify, request, stream_with_context
from pydantic import BaseModel

from ..account import MOODS_MAX_DAYS
from ..auth import require_user
from ..errors import InvalidParameter
from ..schemas import MoodsOut, SettingsOut, SettingsUpdate
from ..store import now_iso
from . import API_PREFIX, parse_body, services
from .conversations import conversation_json

bp = Blueprint("me", __name__, url_prefix=API_PREFIX)
log = logging.getLogger(__name__)
DEFAULT_MOOD_DAYS = 30
_DIGITS = re.compile(r"[0-9]{1,3}")


def _no_store(body: BaseModel) -> Response:
    response = jsonify(body.model_dump(mode="json", by_alias=True))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/me/settings")
@require_user
def get_settings():
    return _no_store(SettingsOut.model_validate(services().account.settings(g.user_id)))


@bp.patch("/me/settings")
@require_user
def update_settings():
    body = parse_body(SettingsUpdate)
    changes = body.model_dump(exclude_none=True)
    account = services().account
    settings = (
        account.update_settings(g.user_id, changes) if changes else account.settings(g.user_id)
    )
    return _no_store(SettingsOut.model_validate(settings))


@bp.get("/me/moods")
@require_user
def moods():
    raw = request.args.get("days")
    days = DEFAULT_MOOD_DAYS
    if raw is not None:
        if not _DIGITS.fullmatch(raw) or not 1 <= int(raw) <= MOODS_MAX_DAYS:
            raise InvalidParameter("days", f"days must be an integer from 1 to {MOODS_MAX_DAYS}.")
        days = int(raw)
    account = services().account
    account.require_mood_timeline(g.user_id)
    return _no_store(MoodsOut.model_validate(account.moods(g.user_id, days)))


def _export(user_id: str) -> Iterator[str]:
    """Everything stored about the user, as one JSON object written piece by piece: one
    conversation's page of messages is in memory at a time, never the whole history."""
    svc = services()
    profile = svc.account.profile(user_id)
    settings = svc.account.settings(user_id)
    head = {
        "exported_at": now_iso(),
        "user": {"user_id": user_id, "username": g.principal.username},
        "profile": profile,
        "settings": settings,
    }
    yield json.dumps(head, ensure_ascii=False)[:-1] + ', "conversations": ['
    for n, (summary, _) in enumerate(svc.store.iter_summaries(user_id)):
        messages = svc.store.iter_messages(user_id, summary["conversation_id"])
        yield "," if n else ""
        yield from conversation_json(summary, messages)
    yield '], "ratings": ['
    for n, row in enumerate(svc.account.iter_rating_rows(user_id)):
        yield ("," if n else "") + json.dumps(row, ensure_ascii=False, default=str)
    yield "]}"


@bp.get("/me/export")
@require_user
def export_everything():
    return Response(
        stream_with_context(_export(g.user_id)),
        mimetype="application/json",
        headers={
            "Content-Disposition": 'attachment; filename="my-chat-data.json"',
            "Cache-Control": "no-store",
        },
    )


@bp.delete("/me")
@require_user
def delete_me():
    counts = services().account.delete_everything(g.user_id, g.principal.username)
    log.info("account deleted", extra={"deleted": counts})
    return "", 204
