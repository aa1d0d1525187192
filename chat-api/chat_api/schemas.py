"""Request and response bodies: the same models validate requests and describe the OpenAPI
document."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from .emotion import LABELS

MAX_MESSAGE_CHARS = 4000
MAX_COMMENT_CHARS = 1000
ID_PATTERN = r"^[0-9A-HJKMNP-TV-Z]{26}$"  # ULID, Crockford base32
# The conversation list's cursor: unpadded base64url, as the API writes it.
CURSOR_PATTERN = r"^[A-Za-z0-9_-]{1,1024}$"

EmotionLabel = Literal[LABELS]
ResourceId = Annotated[str, StringConstraints(pattern=ID_PATTERN)]


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("message must contain text, not only whitespace")
    return value


# A user's message, sent to chat or as an edit.
MessageText = Annotated[
    str, Field(min_length=1, max_length=MAX_MESSAGE_CHARS), AfterValidator(_not_blank)
]


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class ChatRequest(StrictModel):
    message: MessageText
    conversation_id: ResourceId | None = None


class RenameRequest(StrictModel):
    title: Annotated[
        str,
        Field(
            min_length=1,
            max_length=120,
            description="1 to 120 characters; control characters are removed and runs of "
            "spaces collapsed (refused with 422 if nothing printable is left).",
        ),
    ]


class EditRequest(StrictModel):
    message_id: ResourceId = Field(description="The conversation's last user message.")
    message: MessageText


class SettingsUpdate(StrictModel):
    mood_timeline: bool | None = Field(
        None,
        description="false turns the mood timeline off: GET /me/moods answers 409 "
        "`mood_timeline_off` and conversations carry no `emotion_trajectory`.",
    )


class FeedbackRequest(StrictModel):
    conversation_id: ResourceId
    message_id: ResourceId
    rating: Literal["up", "down"]
    comment: Annotated[str, Field(max_length=MAX_COMMENT_CHARS)] | None = None


class EmotionOut(BaseModel):
    label: EmotionLabel
    scores: dict[EmotionLabel, float] = Field(
        description=f"One probability per label: {', '.join(LABELS)}."
    )


class SafetyOut(BaseModel):
    flagged: bool = Field(
        description="True when the message signals a risk of self-harm or suicide; the reply "
        "then always ends with crisis-support guidance."
    )
    category: Literal["self_harm"] | None = Field(None, description="What was recognised.")
    level: Literal["none", "concern", "risk", "urgent"] = Field(
        "none",
        description="Self-harm risk level: none; concern (distress, hopelessness); risk "
        "(ideation, self-harm, or either about another person); urgent (plan, means, timing, "
        "preparations or a method-seeking question). Risk and urgent are flagged. Three user "
        "messages in a row at concern or above make the level at least risk.",
    )


class Usage(BaseModel):
    input_tokens: int
    output_tokens: int
    total_tokens: int


class ChatResponse(BaseModel):
    conversation_id: str
    message_id: str = Field(description="The id of the assistant's reply (rate it with /feedback).")
    user_message_id: str
    reply: str
    emotion: EmotionOut
    safety: SafetyOut
    model_id: str
    usage: Usage
    stop_reason: str
    model_latency_ms: int | None = Field(None, description="Bedrock's own invocation latency.")


class StreamMeta(BaseModel):
    conversation_id: str
    message_id: str
    user_message_id: str
    emotion: EmotionOut
    safety: SafetyOut
    model_id: str


class StreamDelta(BaseModel):
    text: str


class ServerTiming(BaseModel):
    """Milliseconds spent in each part of the request so far (the `Server-Timing` spans)."""

    auth: float
    emotion: float
    storage: float = Field(description="DynamoDB and SQS calls.")
    model: float = Field(description="Waiting on Bedrock.")
    total: float


class StreamDone(BaseModel):
    usage: Usage
    stop_reason: str
    model_latency_ms: int | None = Field(None, description="Bedrock's own invocation latency.")
    server_timing: ServerTiming | None = Field(
        None,
        description="The request's spans until this event (total - storage - model is the "
        "API's own time); the header held only those known before the body.",
    )


class StreamError(BaseModel):
    code: str
    message: str
    request_id: str | None = None


class FeedbackOut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rating: Literal["up", "down"]
    comment: str | None = None


class Message(BaseModel):
    # Documented as closed (additionalProperties: false), so the tests that check real
    # responses against this document catch any field served without being described here.
    model_config = ConfigDict(extra="forbid")

    message_id: str
    role: Literal["user", "assistant"]
    text: str
    created_at: str
    emotion: EmotionOut | None = Field(None, description="Set on user messages.")
    safety: SafetyOut | None = Field(None, description="Set on user messages.")
    model_id: str | None = Field(None, description="Set on assistant messages.")
    edited_at: str | None = Field(None, description="Set on a user message that was edited.")
    feedback: FeedbackOut | None = Field(
        None,
        description="Set on assistant messages the user rated with /feedback: the latest rating.",
    )


class ConversationSummary(BaseModel):
    model_config = ConfigDict(extra="forbid")

    conversation_id: str
    title: str
    title_source: Literal["first_message", "model", "user"] = Field(
        "first_message",
        description="Where the title comes from: the first words of the first message (until "
        "the model's title arrives, or when the model gave none), the model, or the user.",
    )
    created_at: str
    updated_at: str
    message_count: int
    last_emotion: EmotionLabel | None = None


class SearchMatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    field: Literal["title", "message"]
    message_id: str | None = Field(None, description="The matching message (field: message).")
    snippet: str = Field(description="The title, or about 120 characters around the match.")


class ConversationListItem(ConversationSummary):
    match: SearchMatch | None = Field(None, description="Set when the listing is a search (q).")


class ConversationList(BaseModel):
    model_config = ConfigDict(extra="forbid")

    conversations: list[ConversationListItem]
    next_cursor: str | None = Field(None, description="Pass as `cursor` for the next page.")


class TrajectoryPoint(BaseModel):
    model_config = ConfigDict(extra="forbid")

    message_id: str
    created_at: str
    label: EmotionLabel


class ConversationDetail(ConversationSummary):
    messages: list[Message] = Field(
        description="One page of messages, oldest first: the newest ones, or those before `cursor`."
    )
    next_cursor: str | None = Field(
        None,
        description="Pass as `cursor` for the page of earlier messages; null at the start.",
    )
    emotion_trajectory: list[TrajectoryPoint] | None = Field(
        None,
        description="The emotion of each user message of the whole conversation (its newest "
        "500), oldest first. Absent when the user turned the mood timeline off.",
    )


class SettingsOut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mood_timeline: bool = Field(description="Whether the mood timeline is on (default true).")


class MoodFigures(BaseModel):
    model_config = ConfigDict(extra="forbid")

    messages: int = Field(ge=0, description="User messages.")
    counts: dict[EmotionLabel, int] = Field(description="Messages per emotion (all seven).")
    dominant: EmotionLabel | None = Field(
        description="The most frequent emotion (a tie: the one shown latest); null without "
        "messages."
    )
    negative_share: float | None = Field(
        ge=0,
        le=1,
        description="Share of anger, disgust, fear and sadness; null without messages.",
    )


class MoodDay(MoodFigures):
    date: str = Field(pattern=r"^\d{4}-\d{2}-\d{2}$", description="A UTC day.")


class MoodsOut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    days: int
    from_: str = Field(alias="from", description="The first day (UTC).")
    to: str = Field(description="The last day: today (UTC).")
    timezone: Literal["UTC"]
    complete: bool = Field(
        description="false when the request stopped at its bound (20,000 messages read): the "
        "oldest days may then be undercounted."
    )
    totals: MoodFigures
    daily: list[MoodDay] = Field(description="Every day of the window, oldest first.")


class TierLimitsOut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    messages_per_minute: int = Field(ge=1)
    tokens_per_day: int = Field(ge=1, description="Input + output tokens, as Bedrock counts.")
    concurrent_streams: int = Field(ge=1)


class UsedOut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    messages_this_minute: int = Field(ge=0, description="Messages of the last 60-70 seconds.")
    tokens_today: int = Field(ge=0)
    streams_open: int = Field(ge=0)


class ResetsOut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    minute: str = Field(
        pattern=r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$",
        description="When messages_this_minute next drops: its oldest counted messages stop "
        "counting (now when it is 0). UTC.",
    )
    day: str = Field(
        pattern=r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$",
        description="When tokens_today starts again from 0 (UTC midnight).",
    )


class UsageOut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tier: str = Field(description="The tier whose limits apply to the caller.")
    limits: TierLimitsOut
    used: UsedOut
    resets: ResetsOut


class FeedbackAccepted(BaseModel):
    feedback_id: str
    status: Literal["queued"] = "queued"


class Health(BaseModel):
    status: Literal["ok"]
    version: str


class Readiness(BaseModel):
    status: Literal["ready", "not_ready"]
    checks: dict[str, Literal["ok", "failing"]]
    failing: list[str]


class ErrorDetail(BaseModel):
    code: str
    message: str
    request_id: str | None
    details: list[dict] | None = None


class ErrorBody(BaseModel):
    error: ErrorDetail
