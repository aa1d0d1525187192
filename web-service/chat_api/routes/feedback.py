from __future__ import annotations

import uuid
from datetime import UTC, datetime

from botocore.exceptions import BotoCoreError, ClientError
from flask import Blueprint, g

from ..auth import require_user
from ..errors import NotFound, QueueUnavailable
from ..feedback_message import FeedbackMessage
from ..schemas import FeedbackRequest
from . import API_PREFIX, parse_body, services

bp = Blueprint("feedback", __name__, url_prefix=API_PREFIX)


@bp.post("/feedback")
@require_user
def submit_feedback():
    body = parse_body(FeedbackRequest)
    svc = services()
    rated = svc.store.message_exists(g.user_id, body.conversation_id, body.message_id)
    if rated is None or rated.get("role") != "assistant":
        raise NotFound("No such reply in your conversations.")
    message = FeedbackMessage(
        feedback_id=str(uuid.uuid4()),
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
        raise QueueUnavailable() from exc
    return {"feedback_id": message.feedback_id, "status": "queued"}, 202
