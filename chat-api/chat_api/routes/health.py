from __future__ import annotations

from flask import Blueprint, jsonify

from ..schemas import Health, Readiness
from . import API_PREFIX, services

bp = Blueprint("health", __name__, url_prefix=API_PREFIX)


@bp.get("/health")
def health():
    """Liveness: answers from memory only, so it stays fast while dependencies are down."""
    return Health(status="ok", version=services().settings.version).model_dump()


@bp.get("/health/ready")
def ready():
    checks = services().readiness.status()
    failing = sorted(name for name, state in checks.items() if state != "ok")
    body = Readiness(status="not_ready" if failing else "ready", checks=checks, failing=failing)
    response = jsonify(body.model_dump())
    response.status_code = 503 if failing else 200
    response.headers["Cache-Control"] = "no-store"
    return response
