"""Constants that travel between components: the emotion labels, the chat API's error codes
and the ratings of the feedback message. The chat API's OpenAPI document and the feedback
message's JSON Schema are generated from models that use these."""

from __future__ import annotations

EMOTIONS = ("anger", "disgust", "fear", "joy", "neutral", "sadness", "surprise")
RATINGS = ("up", "down")
FEEDBACK_SCHEMA_VERSION = 1
REQUEST_ID_HEADER = "X-Request-ID"

# The chat API's error codes ({"error": {"code": ...}}), by HTTP status.
ERROR_CODES: dict[str, int] = {
    "invalid_json": 400,
    "invalid_parameter": 400,
    "invalid_token": 401,
    "not_found": 404,
    "method_not_allowed": 405,
    "conflict": 409,
    "not_last_message": 409,
    "no_last_turn": 409,
    "mood_timeline_off": 409,
    "idempotency_key_in_use": 409,
    "payload_too_large": 413,
    "unsupported_media_type": 415,
    "validation_error": 422,
    "guardrail_intervened": 422,
    "idempotency_key_reused": 422,
    "rate_limited": 429,
    "quota_exceeded": 429,
    "model_throttled": 429,
    "internal_error": 500,
    "model_error": 502,
    "auth_unavailable": 503,
    "storage_unavailable": 503,
    "feedback_unavailable": 503,
    "model_unavailable": 503,
    "model_timeout": 504,
}
# 429 codes for the user's own limits: waiting a few seconds and sending again cannot help.
LIMIT_CODES = ("rate_limited", "quota_exceeded")
