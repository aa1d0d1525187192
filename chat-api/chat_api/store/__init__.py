"""Conversations and messages in one DynamoDB table (the keys: store/items.py).

ConversationStore is the one interface the routes and the account use; its parts live in one
module each: reading (pages, whole histories, titles), turns (the turn transaction, idempotency
keys, regenerate and edit), feedback (ratings on replies) and deletion.
"""

from __future__ import annotations

from .deletion import Deletion
from .feedback import Feedback, FeedbackReplayed
from .items import (
    MESSAGE_PAGE_MAX,
    RECENT_EMOTIONS_KEPT,
    TURN_KEY_SECONDS,
    emotion_attr,
    now_iso,
    plain,
)
from .reading import Reading
from .turns import Turn, TurnAlreadyStored, Turns, UserMessage

__all__ = [
    "MESSAGE_PAGE_MAX",
    "RECENT_EMOTIONS_KEPT",
    "TURN_KEY_SECONDS",
    "ConversationStore",
    "FeedbackReplayed",
    "Turn",
    "TurnAlreadyStored",
    "UserMessage",
    "emotion_attr",
    "now_iso",
    "plain",
]


class ConversationStore(Reading, Turns, Feedback, Deletion):
    """Conversations, messages, turns and ratings of one table, for every user."""
