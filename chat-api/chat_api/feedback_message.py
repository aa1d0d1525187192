"""The feedback queue message: the one definition shared by the chat API (producer) and the
feedback ingestion Lambda (consumer). It imports nothing from the rest of the chat API so the
consumer can take this file as it is. `feedback-message.schema.json` beside it is generated
from this model for readers outside Python (`make feedback-schema`).
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

SCHEMA_VERSION = 1
SCHEMA_PATH = Path(__file__).with_name("feedback-message.schema.json")

Id = Annotated[str, StringConstraints(min_length=1, max_length=128)]


class FeedbackMessage(BaseModel):
    """One rating of one assistant reply, as it travels on the feedback queue."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="FeedbackMessage")

    schema_version: Literal[1] = SCHEMA_VERSION
    feedback_id: Id = Field(description="Unique per rating; the consumer's idempotency key.")
    user_id: Id = Field(description="Cognito `sub` of the rater.")
    conversation_id: Id
    message_id: Id = Field(description="The rated assistant message.")
    rating: Literal["up", "down"]
    comment: Annotated[str, Field(max_length=1000)] | None = None
    emotion: str | None = Field(None, description="Emotion of the user message answered.")
    model_id: str | None = None
    created_at: datetime
    request_id: str | None = None

    def to_body(self) -> str:
        return self.model_dump_json()

    @classmethod
    def from_body(cls, body: str | bytes) -> FeedbackMessage:
        return cls.model_validate_json(body)


def json_schema() -> dict:
    return FeedbackMessage.model_json_schema()


if __name__ == "__main__":
    SCHEMA_PATH.write_text(json.dumps(json_schema(), indent=2, sort_keys=True) + "\n")
    print(f"wrote {SCHEMA_PATH}")
