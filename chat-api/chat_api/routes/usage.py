"""GET /usage: the caller's limits, what is used of them, and when the windows reset."""

from __future__ import annotations

from flask import Blueprint, g, jsonify

from ..auth import require_user
from ..schemas import UsageOut
from . import API_PREFIX, services

bp = Blueprint("usage", __name__, url_prefix=API_PREFIX)


@bp.get("/usage")
@require_user
def usage():
    usage = UsageOut.model_validate(services().limiter.usage(g.user_id, g.principal.tier))
    response = jsonify(usage.model_dump())
    response.headers["Cache-Control"] = "no-store"
    return response
