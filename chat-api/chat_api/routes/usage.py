"""GET /usage: the caller's limits, what is used of them, and when the windows reset."""

from __future__ import annotations

from flask import Blueprint, g, jsonify

from ..auth import require_user
from . import API_PREFIX, services

bp = Blueprint("usage", __name__, url_prefix=API_PREFIX)


@bp.get("/usage")
@require_user
def usage():
    response = jsonify(services().limiter.usage(g.user_id, g.principal.tier))
    response.headers["Cache-Control"] = "no-store"
    return response
