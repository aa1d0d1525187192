"""The document's paths: every operation of the API, what it takes and what it answers."""

from __future__ import annotations

from .. import schemas
from ..account import MOODS_MAX_DAYS, MOODS_MAX_MESSAGES
from ..routes.conversations import DEFAULT_PAGE, MAX_PAGE, TRAJECTORY_MAX
from ..routes.me import DEFAULT_MOOD_DAYS
from ..search import (
    QUERY_MAX_CHARS,
    SEARCH_CONVERSATIONS_PER_REQUEST,
    SEARCH_MESSAGES_PER_CONVERSATION,
    SEARCH_MESSAGES_PER_REQUEST,
)
from ..store import MESSAGE_PAGE_MAX
from .components import (
    CHAT_ERRORS,
    CHAT_IDEMPOTENCY,
    ID_PARAM,
    IDEMPOTENCY_KEY_PARAM,
    SSE_EVENT,
    cursor_param,
    download,
    errors,
    json_response,
    limit_param,
    ref,
    sse_response,
)


def paths() -> dict:
    chat_body = {
        "required": True,
        "content": {"application/json": {"schema": ref(schemas.ChatRequest)}},
    }
    secured = [{"cognito": []}]
    return {
        "/health": {
            "get": {
                "summary": "Liveness; no dependency is called.",
                "operationId": "health",
                "responses": {"200": json_response(schemas.Health, "The process is up.")},
            }
        },
        "/health/ready": {
            "get": {
                "summary": "Readiness of Bedrock and DynamoDB (cached for about 30 s).",
                "operationId": "ready",
                "responses": {
                    "200": json_response(schemas.Readiness, "Every dependency answers."),
                    "503": json_response(
                        schemas.Readiness, "A dependency is failing; see `failing`."
                    ),
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
                    "200": json_response(
                        schemas.ChatResponse, "The reply, with the detected emotion."
                    ),
                    **errors(*CHAT_ERRORS),
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
                    **errors(*CHAT_ERRORS),
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
                    limit_param(MAX_PAGE, DEFAULT_PAGE),
                    cursor_param(
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
                    "200": json_response(schemas.ConversationList, "One page of conversations."),
                    **errors(400, 401, 503),
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
                    limit_param(MESSAGE_PAGE_MAX, MESSAGE_PAGE_MAX),
                    cursor_param(
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
                    "200": json_response(schemas.ConversationDetail, "The conversation."),
                    **errors(400, 401, 404, 503),
                },
            },
            "patch": {
                "summary": "Rename a conversation.",
                "operationId": "renameConversation",
                "security": secured,
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": ref(schemas.RenameRequest)}},
                },
                "responses": {
                    "200": json_response(schemas.ConversationSummary, "The renamed conversation."),
                    **errors(400, 401, 404, 413, 415, 422, 503),
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
                    **errors(400, 401, 404, 503),
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
                    "200": sse_response(),
                    **errors(400, 401, 404, 409, 429, 502, 503, 504),
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
                    "content": {"application/json": {"schema": ref(schemas.EditRequest)}},
                },
                "responses": {
                    "200": sse_response(),
                    **errors(400, 401, 404, 409, 413, 415, 422, 429, 502, 503, 504),
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
                        **download(
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
                    **errors(400, 401, 404, 503),
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
                    **errors(400, 401, 503),
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
                    "200": download(
                        "application/json", {"type": "object"}, "All of the caller's data."
                    ),
                    **errors(400, 401, 503),
                },
            }
        },
        "/me/settings": {
            "get": {
                "summary": "The caller's settings.",
                "operationId": "getSettings",
                "security": secured,
                "responses": {
                    "200": json_response(schemas.SettingsOut, "The settings."),
                    **errors(400, 401, 503),
                },
            },
            "patch": {
                "summary": "Change settings (fields left out keep their value).",
                "operationId": "updateSettings",
                "security": secured,
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": ref(schemas.SettingsUpdate)}},
                },
                "responses": {
                    "200": json_response(schemas.SettingsOut, "The settings now."),
                    **errors(400, 401, 413, 415, 422, 503),
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
                    "200": json_response(schemas.MoodsOut, "The mood timeline."),
                    **errors(400, 401, 409, 503),
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
                    "content": {"application/json": {"schema": ref(schemas.FeedbackRequest)}},
                },
                "responses": {
                    "202": json_response(
                        schemas.FeedbackAccepted, "The rating is recorded and queued."
                    ),
                    **errors(400, 401, 404, 413, 415, 422, 503),
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
                    "200": json_response(schemas.UsageOut, "The caller's usage."),
                    **errors(400, 401, 503),
                },
            }
        },
    }
