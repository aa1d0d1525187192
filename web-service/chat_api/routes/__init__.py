"""HTTP endpoints under /api/v1, one blueprint per resource."""

from __future__ import annotations

import json
from typing import TypeVar

from flask import current_app, request
from pydantic import BaseModel, ValidationError

from ..errors import BadRequest, UnsupportedMediaType, ValidationFailed

API_PREFIX = "/api/v1"
Model = TypeVar("Model", bound=BaseModel)


def parse_body(model: type[Model]) -> Model:
    """Validates a JSON body strictly: 415 unless JSON, 400 if unparsable, 422 if off-schema."""
    if request.mimetype != "application/json":
        raise UnsupportedMediaType()
    raw = request.get_data(cache=False)  # raises 413 past MAX_CONTENT_LENGTH
    try:
        payload = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("The request body is not valid JSON.") from None
    if not isinstance(payload, dict):
        raise ValidationFailed("The request body must be a JSON object.")
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        details = [
            {
                "field": ".".join(str(part) for part in error["loc"]) or "body",
                "message": error["msg"],
                "type": error["type"],
            }
            for error in exc.errors(include_url=False, include_input=False)
        ]
        raise ValidationFailed(details=details) from None


def services():
    return current_app.extensions["chat_api"]
