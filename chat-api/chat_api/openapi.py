"""The OpenAPI 3.1 document, built from the same pydantic models that validate the requests."""

from __future__ import annotations

from functools import cache

from flask import Blueprint, current_app
from pydantic.json_schema import models_json_schema

from . import schemas
from .account import MOODS_MAX_DAYS, MOODS_MAX_MESSAGES
from .routes import API_PREFIX
from .routes.conversations import DEFAULT_PAGE, MAX_PAGE, TRAJECTORY_MAX
from .routes.me import DEFAULT_MOOD_DAYS
from .search import (
    QUERY_MAX_CHARS,
    SEARCH_CONVERSATIONS_PER_REQUEST,
    SEARCH_MESSAGES_PER_CONVERSATION,
    SEARCH_MESSAGES_PER_REQUEST,
)
from .store import MESSAGE_PAGE_MAX

bp = Blueprint("openapi", __name__, url_prefix=API_PREFIX)

_MODELS = [
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


def _ref(model) -> dict:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _json(model, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": _ref(model)}}}


RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before sending the request again.",
        "schema": {"type": "string", "pattern": "^[0-9]+$"},
    }
}


def _errors(*statuses: int) -> dict:
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
        response = _json(schemas.ErrorBody, text[status])
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


def _limit_param(maximum: int, default: int) -> dict:
    return {
        "name": "limit",
        "in": "query",
        "description": "ASCII digits only.",
        "schema": {"type": "integer", "minimum": 1, "maximum": maximum, "default": default},
    }


def _sse_response() -> dict:
    return {
        "description": "An event stream: the events of `/chat/stream`.",
        "content": {"text/event-stream": {"schema": SSE_EVENT}},
    }


def _download(media_type: str, schema: dict, description: str) -> dict:
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


def _cursor_param(pattern: str, description: str) -> dict:
    return {
        "name": "cursor",
        "in": "query",
        "description": description,
        "schema": {"type": "string", "pattern": pattern},
    }


@cache
def build_document(version: str) -> dict:
    _, definitions = models_json_schema(
        [(model, "serialization") for model in _MODELS],
        ref_template="#/components/schemas/{model}",
    )
    chat_body = {
        "required": True,
        "content": {"application/json": {"schema": _ref(schemas.ChatRequest)}},
    }
    secured = [{"cognito": []}]
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
        "components": {
            "schemas": definitions["$defs"],
            "securitySchemes": {
                "cognito": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "A Cognito user pool access token (not the ID token).",
                }
            },
        },
        "paths": {
            "/health": {
                "get": {
                    "summary": "Liveness; no dependency is called.",
                    "operationId": "health",
                    "responses": {"200": _json(schemas.Health, "The process is up.")},
                }
            },
            "/health/ready": {
                "get": {
                    "summary": "Readiness of Bedrock and DynamoDB (cached for about 30 s).",
                    "operationId": "ready",
                    "responses": {
                        "200": _json(schemas.Readiness, "Every dependency answers."),
                        "503": _json(schemas.Readiness, "A dependency is failing; see `failing`."),
                    },
                }
            },
            "/openapi.json": {
                "get": {
                    "summary": "This document.",
                    "operationId": "openapi",
                    "responses": {"200": {"description": "The OpenAPI 3.1 document."}},
                }
            },
            "/chat": {
                "post": {
                    "summary": "Send a message and get the whole reply.",
                    "description": CHAT_IDEMPOTENCY,
                    "operationId": "chat",
                    "security": secured,
                    "parameters": [IDEMPOTENCY_KEY_PARAM],
                    "requestBody": chat_body,
                    "responses": {
                        "200": _json(schemas.ChatResponse, "The reply, with the detected emotion."),
                        **_errors(*CHAT_ERRORS),
                    },
                }
            },
            "/chat/stream": {
                "post": {
                    "summary": "Send a message and receive the reply as Server-Sent Events.",
                    "description": (
                        "Events: one `meta` (StreamMeta), `delta` events (StreamDelta) as the "
                        "model writes, then `done` (StreamDone) or `error` (StreamError). Errors "
                        "before the stream starts are plain JSON responses. An `error` with code "
                        "`guardrail_intervened` means the content guardrail stopped the reply: "
                        "show its `message` (a polite refusal) instead of any text received. "
                        + CHAT_IDEMPOTENCY
                        + " A stored turn comes back as one `meta`, one `delta` with the whole "
                        "reply and `done`. Two requests with one key at the same time: the one "
                        "that stores second ends with `error` `idempotency_key_in_use`; sending it "
                        "again returns the stored turn."
                    ),
                    "operationId": "chatStream",
                    "security": secured,
                    "parameters": [IDEMPOTENCY_KEY_PARAM],
                    "requestBody": chat_body,
                    "responses": {
                        "200": {
                            "description": "An event stream.",
                            "content": {"text/event-stream": {"schema": SSE_EVENT}},
                        },
                        **_errors(*CHAT_ERRORS),
                    },
                }
            },
            "/conversations": {
                "get": {
                    "summary": "The caller's conversations, most recently active first.",
                    "operationId": "listConversations",
                    "security": secured,
                    "description": (
                        "With `q`, a search of the caller's conversation titles and message "
                        "text, case- and accent-insensitive (NFKD, accents dropped, casefold); "
                        "each result carries `match`. One search request examines at most "
                        f"{SEARCH_CONVERSATIONS_PER_REQUEST} conversations and reads at most "
                        f"about {SEARCH_MESSAGES_PER_REQUEST} messages (a conversation's newest "
                        f"{SEARCH_MESSAGES_PER_CONVERSATION}), then stops: a page can hold "
                        "fewer than `limit` results, even none, while `next_cursor` is set; "
                        "follow it until it is null."
                    ),
                    "parameters": [
                        _limit_param(MAX_PAGE, DEFAULT_PAGE),
                        _cursor_param(
                            schemas.CURSOR_PATTERN,
                            "The `next_cursor` of the previous page (opaque; only the caller's "
                            "own cursors are accepted).",
                        ),
                        {
                            "name": "q",
                            "in": "query",
                            "description": "Text to search for (control characters count as "
                            "spaces; not only spaces).",
                            "schema": {
                                "type": "string",
                                "minLength": 1,
                                "maxLength": QUERY_MAX_CHARS,
                                "pattern": "[^\\s\\x00-\\x1f\\x7f-\\x9f]",
                            },
                        },
                    ],
                    "responses": {
                        "200": _json(schemas.ConversationList, "One page of conversations."),
                        **_errors(400, 401, 503),
                    },
                }
            },
            "/conversations/{conversation_id}": {
                "parameters": [ID_PARAM],
                "get": {
                    "summary": "One conversation with a page of its messages (the newest "
                    "first page), their emotions and ratings.",
                    "operationId": "getConversation",
                    "security": secured,
                    "parameters": [
                        _limit_param(MESSAGE_PAGE_MAX, MESSAGE_PAGE_MAX),
                        _cursor_param(
                            schemas.ID_PATTERN,
                            "The `next_cursor` of the previous page: the messages before it.",
                        ),
                    ],
                    "description": (
                        "`emotion_trajectory` lists the emotion of each user message of the "
                        f"whole conversation (its newest {TRAJECTORY_MAX}), oldest first; it is "
                        "absent when the user turned the mood timeline off."
                    ),
                    "responses": {
                        "200": _json(schemas.ConversationDetail, "The conversation."),
                        **_errors(400, 401, 404, 503),
                    },
                },
                "patch": {
                    "summary": "Rename a conversation.",
                    "operationId": "renameConversation",
                    "security": secured,
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": _ref(schemas.RenameRequest)}},
                    },
                    "responses": {
                        "200": _json(schemas.ConversationSummary, "The renamed conversation."),
                        **_errors(400, 401, 404, 413, 415, 422, 503),
                    },
                },
                "delete": {
                    "summary": "Delete a conversation and its messages.",
                    "description": (
                        "The messages go first and the summary last: if something cannot be "
                        "deleted the answer is 503 and the conversation is still listed; "
                        "sending the DELETE again finishes the job."
                    ),
                    "operationId": "deleteConversation",
                    "security": secured,
                    "responses": {
                        "204": {"description": "Deleted."},
                        **_errors(400, 401, 404, 503),
                    },
                },
            },
            "/conversations/{conversation_id}/regenerate": {
                "parameters": [ID_PARAM],
                "post": {
                    "summary": "Stream a new reply to the last user message, replacing the last "
                    "reply (and its rating).",
                    "description": (
                        "No body. The events are those of `/chat/stream`; `meta` names the new "
                        "reply and the existing user message. The old reply is replaced only "
                        "when `done` is sent; after an `error`, or a disconnect, the turn is as "
                        "it was. Counts against the caller's limits like a chat message."
                    ),
                    "operationId": "regenerateReply",
                    "security": secured,
                    "responses": {
                        "200": _sse_response(),
                        **_errors(400, 401, 404, 409, 429, 502, 503, 504),
                    },
                },
            },
            "/conversations/{conversation_id}/edit": {
                "parameters": [ID_PARAM],
                "post": {
                    "summary": "Replace the last user message and stream a new reply.",
                    "description": (
                        "`message_id` must be the conversation's last user message: an earlier "
                        "one (or a reply) is refused with 409 `not_last_message`. The message "
                        "is classified again; the events are those of `/chat/stream`. The edit "
                        "is stored, with the new reply, only when `done` is sent."
                    ),
                    "operationId": "editLastMessage",
                    "security": secured,
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": _ref(schemas.EditRequest)}},
                    },
                    "responses": {
                        "200": _sse_response(),
                        **_errors(400, 401, 404, 409, 413, 415, 422, 429, 502, 503, 504),
                    },
                },
            },
            "/conversations/{conversation_id}/export": {
                "parameters": [ID_PARAM],
                "get": {
                    "summary": "Download one conversation with its emotions and ratings.",
                    "operationId": "exportConversation",
                    "security": secured,
                    "parameters": [
                        {
                            "name": "format",
                            "in": "query",
                            "schema": {"enum": ["json", "markdown"], "default": "json"},
                        }
                    ],
                    "responses": {
                        "200": {
                            **_download(
                                "application/json",
                                {"type": "object"},
                                "The conversation: its summary and every message (JSON), or "
                                "Markdown with each message fenced as written.",
                            ),
                            "content": {
                                "application/json": {"schema": {"type": "object"}},
                                "text/markdown": {"schema": {"type": "string"}},
                            },
                        },
                        **_errors(400, 401, 404, 503),
                    },
                },
            },
            "/me": {
                "delete": {
                    "summary": "Delete the caller's account and everything stored about them.",
                    "description": (
                        "Deletes the conversations (messages, ratings on them), the usage "
                        "counters, the rating rows of the feedback table, the profile (and "
                        "settings), then the Cognito user. Idempotent: after a 503 or a lost "
                        "answer, sending it again (with the same access token) finishes the "
                        "job; 204 once nothing is left."
                    ),
                    "operationId": "deleteMe",
                    "security": secured,
                    "responses": {
                        "204": {"description": "Nothing of the user is left."},
                        **_errors(400, 401, 503),
                    },
                }
            },
            "/me/export": {
                "get": {
                    "summary": "Download everything stored about the caller as JSON (streamed).",
                    "description": (
                        "`user`, `profile`, `settings`, `conversations` (each with every "
                        "message, its emotion and rating) and `ratings` (the rows of the "
                        "feedback table). Written as it is read, one page of messages at a time."
                    ),
                    "operationId": "exportMe",
                    "security": secured,
                    "responses": {
                        "200": _download(
                            "application/json", {"type": "object"}, "All of the caller's data."
                        ),
                        **_errors(400, 401, 503),
                    },
                }
            },
            "/me/settings": {
                "get": {
                    "summary": "The caller's settings.",
                    "operationId": "getSettings",
                    "security": secured,
                    "responses": {
                        "200": _json(schemas.SettingsOut, "The settings."),
                        **_errors(400, 401, 503),
                    },
                },
                "patch": {
                    "summary": "Change settings (fields left out keep their value).",
                    "operationId": "updateSettings",
                    "security": secured,
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": _ref(schemas.SettingsUpdate)}},
                    },
                    "responses": {
                        "200": _json(schemas.SettingsOut, "The settings now."),
                        **_errors(400, 401, 413, 415, 422, 503),
                    },
                },
            },
            "/me/moods": {
                "get": {
                    "summary": "The caller's emotions per UTC day: counts per label, the "
                    "dominant one and the share of negative emotions.",
                    "description": (
                        "Counts the emotions of the caller's own messages. Negative: anger, "
                        "disgust, fear, sadness. One request reads at most "
                        f"{MOODS_MAX_MESSAGES} messages (`complete` is false past that). 409 "
                        "`mood_timeline_off` when the user turned the timeline off."
                    ),
                    "operationId": "getMoods",
                    "security": secured,
                    "parameters": [
                        {
                            "name": "days",
                            "in": "query",
                            "description": "ASCII digits only; the window ends today (UTC).",
                            "schema": {
                                "type": "integer",
                                "minimum": 1,
                                "maximum": MOODS_MAX_DAYS,
                                "default": DEFAULT_MOOD_DAYS,
                            },
                        }
                    ],
                    "responses": {
                        "200": _json(schemas.MoodsOut, "The mood timeline."),
                        **_errors(400, 401, 409, 503),
                    },
                }
            },
            "/feedback": {
                "post": {
                    "summary": "Rate an assistant reply; recorded on it and queued for ingestion.",
                    "description": (
                        "The rating (and comment) is stored on the reply, where "
                        "`GET /conversations/{conversation_id}` returns it as `feedback`; a later "
                        "rating replaces the earlier one. If it cannot be queued the answer is "
                        "503 `feedback_unavailable` and the reply keeps its earlier rating; "
                        "sending it again is safe. A client that cannot tell whether a rating "
                        "arrived sends it again with the same `Idempotency-Key`: it is then "
                        "recorded and ingested once, and the answer carries the same "
                        "`feedback_id`. The same key with another rating or comment is refused "
                        "with 422 `idempotency_key_reused`."
                    ),
                    "operationId": "submitFeedback",
                    "security": secured,
                    "parameters": [IDEMPOTENCY_KEY_PARAM],
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": _ref(schemas.FeedbackRequest)}},
                    },
                    "responses": {
                        "202": _json(
                            schemas.FeedbackAccepted, "The rating is recorded and queued."
                        ),
                        **_errors(400, 401, 404, 413, 415, 422, 503),
                    },
                }
            },
            "/usage": {
                "get": {
                    "summary": "The caller's limits, what is used of them and when they reset.",
                    "description": (
                        "Limits come from the caller's tier (the access token's `tier` claim; "
                        "the default tier when absent or unknown). A request over a limit is "
                        "refused with 429 `rate_limited` or `quota_exceeded`."
                    ),
                    "operationId": "getUsage",
                    "security": secured,
                    "responses": {
                        "200": _json(schemas.UsageOut, "The caller's usage."),
                        **_errors(400, 401, 503),
                    },
                }
            },
        },
    }


@bp.get("/openapi.json")
def openapi_document():
    return build_document(current_app.extensions["chat_api"].settings.version)
