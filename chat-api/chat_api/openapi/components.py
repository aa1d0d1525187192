"""The document's reusable parts: the models its schemas come from, the error responses, the
parameters and response shapes several operations share."""

from __future__ import annotations

from pydantic.json_schema import models_json_schema

from .. import schemas

MODELS = [
    schemas.ChatRequest,
    schemas.ChatResponse,
    schemas.StreamMeta,
    schemas.StreamDelta,
    schemas.StreamDone,
    schemas.StreamError,
    schemas.FeedbackRequest,
    schemas.FeedbackAccepted,
    schemas.ConversationList,
    schemas.ConversationDetail,
    schemas.ConversationSummary,
    schemas.RenameRequest,
    schemas.EditRequest,
    schemas.SettingsUpdate,
    schemas.SettingsOut,
    schemas.MoodsOut,
    schemas.Health,
    schemas.Readiness,
    schemas.UsageOut,
    schemas.ErrorBody,
]


def ref(model) -> dict:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def json_response(model, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": ref(model)}}}


RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before sending the request again.",
        "schema": {"type": "string", "pattern": "^[0-9]+$"},
    }
}


def errors(*statuses: int) -> dict:
    text = {
        400: (
            "`invalid_json`: the body is not valid JSON; `invalid_parameter`: a query, path or "
            "header parameter is off its declared format, undeclared or repeated, or the cursor "
            "is not one this API gave you."
        ),
        401: 'Missing or invalid access token (`WWW-Authenticate: Bearer error="invalid_token"`).',
        404: "Unknown id, or one that belongs to another user.",
        409: (
            "The request does not apply to the resource as it is: `no_last_turn` (the "
            "conversation does not end with a reply to the user), `not_last_message` (only the "
            "last user message can be edited), `conflict` (the conversation changed meanwhile), "
            "`mood_timeline_off` (the user turned the mood timeline off)."
        ),
        413: "The body exceeds the size limit.",
        415: "The body is not `application/json`.",
        422: (
            "The body or a parameter does not match the schema (`validation_error`); on chat, "
            "`guardrail_intervened`: the content guardrail blocked the message or the reply, and "
            "`message` is a polite refusal to show the user; `idempotency_key_reused`: the "
            "`Idempotency-Key` came with another request body before."
        ),
        429: (
            "Refused before anything is stored or the model is called, with `Retry-After` "
            "(seconds): `rate_limited` (the caller's messages per minute or simultaneous "
            "streams are used up), `quota_exceeded` (the caller's tokens for the day are used "
            "up; retry after the UTC midnight), or `model_throttled` (the model is busy)."
        ),
        502: "The model failed.",
        503: (
            "A dependency is unavailable (`model_unavailable`, `storage_unavailable`, "
            "`feedback_unavailable`), or the token's signing keys cannot be fetched "
            "(`auth_unavailable`: not a sign-out); see `Retry-After` where given."
        ),
        504: "The model did not answer within the deadline.",
    }
    responses = {}
    for status in statuses:
        response = json_response(schemas.ErrorBody, text[status])
        if status == 429:
            response["headers"] = RETRY_AFTER
        responses[str(status)] = response
    return responses


IDEMPOTENCY_KEY_PARAM = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": (
        "A key of the client's choosing (a UUID, for example), the same on every retry of one "
        "request and new for the next one; keys are per user."
    ),
    "schema": {"type": "string", "pattern": "^[A-Za-z0-9._:-]{1,128}$"},
}
CHAT_IDEMPOTENCY = (
    "A client that cannot tell whether its message was answered (the connection cut before the "
    "end) sends it again with the same `Idempotency-Key`: if the first request stored its turn, "
    "that turn comes back (`Idempotent-Replayed: true`), without a second model call or a "
    "second turn; if it stored nothing, the request runs again. A key answers retries for 24 "
    "hours; the same key with another message or conversation is 422 `idempotency_key_reused`."
)
CHAT_ERRORS = (400, 401, 404, 413, 415, 422, 429, 502, 503, 504)
ID_PARAM = {
    "name": "conversation_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": schemas.ID_PATTERN},
}


# One Server-Sent Event; `data` is the JSON of the schema its name says (see the description).
SSE_EVENT = {
    "type": "object",
    "required": ["event", "data"],
    "properties": {
        "event": {"enum": ["meta", "delta", "done", "error"]},
        "data": {"type": "string", "contentMediaType": "application/json"},
    },
}


def limit_param(maximum: int, default: int) -> dict:
    return {
        "name": "limit",
        "in": "query",
        "description": "ASCII digits only.",
        "schema": {"type": "integer", "minimum": 1, "maximum": maximum, "default": default},
    }


def sse_response() -> dict:
    return {
        "description": "An event stream: the events of `/chat/stream`.",
        "content": {"text/event-stream": {"schema": SSE_EVENT}},
    }


def download(media_type: str, schema: dict, description: str) -> dict:
    return {
        "description": description,
        "headers": {
            "Content-Disposition": {
                "description": "`attachment` with a file name.",
                "schema": {"type": "string"},
            }
        },
        "content": {media_type: {"schema": schema}},
    }


def cursor_param(pattern: str, description: str) -> dict:
    return {
        "name": "cursor",
        "in": "query",
        "description": description,
        "schema": {"type": "string", "pattern": pattern},
    }


def components() -> dict:
    """The components section: every model's JSON Schema (as serialised) and the security
    scheme."""
    _, definitions = models_json_schema(
        [(model, "serialization") for model in MODELS],
        ref_template="#/components/schemas/{model}",
    )
    return {
        "schemas": definitions["$defs"],
        "securitySchemes": {
            "cognito": {
                "type": "http",
                "scheme": "bearer",
                "bearerFormat": "JWT",
                "description": "A Cognito user pool access token (not the ID token).",
            }
        },
    }
