"""HTTP endpoints under /api/v1, one blueprint per resource."""

from __future__ import annotations

import json
import re
from typing import TypeVar

from flask import Flask, current_app, request
from pydantic import BaseModel, ValidationError

from ..errors import BadRequest, InvalidParameter, UnsupportedMediaType, ValidationFailed

API_PREFIX = "/api/v1"
Model = TypeVar("Model", bound=BaseModel)
# The query parameters each endpoint declares in the OpenAPI document; any other (or one given
# twice) is refused, so a typo never passes silently as "use the default".
QUERY_PARAMETERS: dict[str, tuple[str, ...]] = {
    "conversations.list_conversations": ("limit", "cursor", "q"),
    "conversations.get_conversation": ("limit", "cursor"),
    "conversations.export_conversation": ("format",),
    "me.moods": ("days",),
}
# Probes and the document itself ignore query strings (load balancers and tools add their own).
_ANY_QUERY = ("health.", "openapi.")


def init_query_checks(app: Flask) -> None:
    @app.before_request
    def refuse_undeclared_query_parameters() -> None:
        endpoint = request.endpoint
        if endpoint is None or endpoint.startswith(_ANY_QUERY):
            return
        allowed = QUERY_PARAMETERS.get(endpoint, ())
        for name in request.args:
            if name not in allowed:
                raise InvalidParameter(name, f"{name!r} is not a parameter of this endpoint.")
            if len(request.args.getlist(name)) > 1:
                raise InvalidParameter(name, f"{name} is given more than once.")


IDEMPOTENCY_HEADER = "Idempotency-Key"
IDEMPOTENCY_KEY = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def idempotency_key() -> str | None:
    """The request's Idempotency-Key header (None when absent); 400 when malformed."""
    key = request.headers.get(IDEMPOTENCY_HEADER)
    if key is None:
        return None
    if not IDEMPOTENCY_KEY.fullmatch(key):
        raise InvalidParameter(
            IDEMPOTENCY_HEADER,
            "The idempotency key must be 1 to 128 letters, digits or the characters . _ : -",
        )
    return key


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
