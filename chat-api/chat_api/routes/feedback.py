"""POST /feedback: the rating is recorded on the rated reply, then queued for ingestion.

Recording first means an unknown reply, someone else's, or a user message is refused (404)
before anything is queued. If the queue then fails, the recorded rating is withdrawn (the
reply's earlier one put back) and the answer is the 503 `feedback_unavailable`: from the user's
point of view nothing happened, and sending the rating again is safe. Should the withdrawal
fail too, the reply keeps the new rating without a queue message until the client retries,
which records the same rating again and queues it.

A client that cannot tell whether its rating arrived (a connection cut before the answer) sends
it again with the same `Idempotency-Key` header: the retry finds the rating recorded under that
key and queues that same rating again (same feedback_id, same content), instead of recording a
second one. The consumer writes one row per feedback_id, so a rating is stored once however
often it is retried. The same key with another rating or comment is refused (422
`idempotency_key_reused`).
"""

from __future__ import annotations

import logging
import uuid

from botocore.exceptions import BotoCoreError, ClientError
from flask import Blueprint, g

from ..auth import require_user
from ..errors import IdempotencyKeyReused, QueueUnavailable, StorageUnavailable
from ..feedback_message import FeedbackMessage
from ..schemas import FeedbackAccepted, FeedbackRequest
from ..store import FeedbackReplayed, now_iso
from . import API_PREFIX, idempotency_key, parse_body, services

bp = Blueprint("feedback", __name__, url_prefix=API_PREFIX)
log = logging.getLogger(__name__)


@bp.post("/feedback")
@require_user
def submit_feedback():
    body = parse_body(FeedbackRequest)
    key = idempotency_key()
    svc = services()
    feedback = {
        "feedback_id": str(uuid.uuid4()),
        "rating": body.rating,
        "comment": body.comment,
        "created_at": now_iso(),
        "request_id": g.get("request_id"),
        "idempotency_key": key,
    }
    replayed = False
    try:
        rated = svc.store.record_feedback(
            g.user_id, body.conversation_id, body.message_id, feedback, idempotency_key=key
        )
    except FeedbackReplayed as replay:
        if (replay.feedback.get("rating"), replay.feedback.get("comment")) != (
            body.rating,
            body.comment,
        ):
            raise IdempotencyKeyReused() from None
        rated, feedback, replayed = replay.reply, replay.feedback, True
    message = FeedbackMessage(
        feedback_id=feedback["feedback_id"],
        user_id=g.user_id,
        conversation_id=body.conversation_id,
        message_id=body.message_id,
        rating=body.rating,
        comment=body.comment,
        emotion=rated.get("reply_to_emotion"),
        model_id=rated.get("model_id"),
        created_at=feedback["created_at"],
        request_id=feedback.get("request_id"),
    )
    try:
        svc.clients.sqs.send_message(
            QueueUrl=svc.settings.feedback_queue_url,
            MessageBody=message.to_body(),
            MessageAttributes={
                "schema_version": {"DataType": "Number", "StringValue": str(message.schema_version)}
            },
        )
    except (ClientError, BotoCoreError) as exc:
        log.error("feedback not queued", extra={"error_type": type(exc).__name__})
        if not replayed:  # a replayed rating was recorded by the first request: it stays
            _withdraw(svc, body, feedback["feedback_id"], rated.get("feedback"))
        raise QueueUnavailable() from exc
    return FeedbackAccepted(feedback_id=message.feedback_id).model_dump(), 202


def _withdraw(svc, body: FeedbackRequest, feedback_id: str, previous: dict | None) -> None:
    try:
        svc.store.withdraw_feedback(
            g.user_id, body.conversation_id, body.message_id, feedback_id, previous=previous
        )
    except StorageUnavailable:
        log.error("feedback recorded but not queued", extra={"feedback_id": feedback_id})
