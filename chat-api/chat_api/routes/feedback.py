"""POST /feedback: the rating is recorded on the rated reply, then queued for ingestion.

Recording first means an unknown reply, someone else's, or a user message is refused (404)
before anything is queued. If the queue then fails, the recorded rating is withdrawn (the
reply's earlier one put back) and the answer is the 503 `feedback_unavailable`: from the user's
point of view nothing happened, and sending the rating again is safe. Should the withdrawal
fail too, the reply keeps the new rating without a queue message until the client retries,
which records the same rating again and queues it.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime

from botocore.exceptions import BotoCoreError, ClientError
from flask import Blueprint, g

from ..auth import require_user
from ..errors import QueueUnavailable, StorageUnavailable
from ..feedback_message import FeedbackMessage
from ..schemas import FeedbackRequest
from ..store import now_iso
from . import API_PREFIX, parse_body, services

bp = Blueprint("feedback", __name__, url_prefix=API_PREFIX)
log = logging.getLogger(__name__)


@bp.post("/feedback")
@require_user
def submit_feedback():
    body = parse_body(FeedbackRequest)
    svc = services()
    feedback_id = str(uuid.uuid4())
    rated = svc.store.record_feedback(
        g.user_id,
        body.conversation_id,
        body.message_id,
        {
            "feedback_id": feedback_id,
            "rating": body.rating,
            "comment": body.comment,
            "created_at": now_iso(),
        },
    )
    message = FeedbackMessage(
        feedback_id=feedback_id,
        user_id=g.user_id,
        conversation_id=body.conversation_id,
        message_id=body.message_id,
        rating=body.rating,
        comment=body.comment,
        emotion=rated.get("reply_to_emotion"),
        model_id=rated.get("model_id"),
        created_at=datetime.now(UTC),
        request_id=g.get("request_id"),
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
        try:
            svc.store.withdraw_feedback(
                g.user_id,
                body.conversation_id,
                body.message_id,
                feedback_id,
                previous=rated.get("feedback"),
            )
        except StorageUnavailable:
            log.error("feedback recorded but not queued", extra={"feedback_id": feedback_id})
        raise QueueUnavailable() from exc
    return {"feedback_id": message.feedback_id, "status": "queued"}, 202
