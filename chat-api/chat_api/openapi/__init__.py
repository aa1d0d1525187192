"""The OpenAPI 3.1 document, built from the same pydantic models that validate the requests:
the reusable components (components.py) and the operations (paths.py)."""

from __future__ import annotations

from functools import cache

from flask import Blueprint, current_app

from .. import schemas
from ..routes import API_PREFIX
from .components import components
from .paths import paths

bp = Blueprint("openapi", __name__, url_prefix=API_PREFIX)


@cache
def build_document(version: str) -> dict:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Emotion-aware chat API",
            "version": version,
            "description": (
                "Every user message is classified into one of seven emotions and answered by "
                "Amazon Bedrock in a tone adapted to it. Errors share one shape: "
                '`{"error": {"code", "message", "request_id"}}`. Every response echoes '
                f"`X-Request-ID`. Messages hold at most {schemas.MAX_MESSAGE_CHARS} characters."
            ),
        },
        "servers": [{"url": API_PREFIX}],
        "components": components(),
        "paths": paths(),
    }


@bp.get("/openapi.json")
def openapi_document():
    return build_document(current_app.extensions["chat_api"].settings.version)
