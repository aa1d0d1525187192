"""One error shape for every failure: {"error": {"code", "message", "request_id"}}.

Each error class names its code; its status is the wire's (chatbot_common.wire.ERROR_CODES,
which the web app reads too) and its sentence is MESSAGES', unless the raiser words it."""

from __future__ import annotations

from typing import Any

from flask import Flask, g, jsonify
from werkzeug.exceptions import HTTPException

from chatbot_common.wire import ERROR_CODES

# What each code says when the raiser gives no sentence of its own.
MESSAGES = {
    "internal_error": "The server could not complete the request.",
    "invalid_json": "The request body is not valid JSON.",
    "invalid_parameter": "A parameter is not valid.",
    "invalid_token": "A valid Cognito access token is required.",
    "not_found": "No such resource.",
    "method_not_allowed": "The method is not allowed for this resource.",
    "conflict": "The resource changed or is in a state that does not allow this.",
    "idempotency_key_in_use": (
        "Another request with this idempotency key stored its reply first; send the request "
        "again to receive that reply."
    ),
    "payload_too_large": "The request body is too large.",
    "unsupported_media_type": "The request body must be application/json.",
    "validation_error": "The request body is not valid.",
    "idempotency_key_reused": (
        "This idempotency key was sent with another request body; use a new key."
    ),
    "model_throttled": "The model is busy; retry after the indicated delay.",
    "rate_limited": "Too many requests; retry after the indicated delay.",
    "quota_exceeded": "Today's usage quota is used up; it resets at midnight UTC.",
    "auth_unavailable": "Sign-in cannot be checked right now; try again shortly.",
    "model_unavailable": "The model is unavailable; try again later.",
    "storage_unavailable": "Conversation storage is unavailable; try again later.",
    "feedback_unavailable": "Feedback could not be queued; try again later.",
    "model_timeout": "The model did not answer in time.",
    "model_error": "The model failed to produce a reply.",
}


class ApiError(Exception):
    code = "internal_error"
    status = ERROR_CODES[code]
    message = MESSAGES[code]

    def __init_subclass__(cls, *, code: str | None = None, **kwargs: Any) -> None:
        """`class NotFound(ApiError, code="not_found")`: the code's status, and its sentence
        unless the class words its own."""
        super().__init_subclass__(**kwargs)
        if code is not None:
            cls.code, cls.status = code, ERROR_CODES[code]
            if "message" not in vars(cls):
                cls.message = MESSAGES.get(code, cls.message)

    def __init__(
        self,
        message: str | None = None,
        *,
        details: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(message or self.message)
        self.message = message or self.message
        self.details = details
        self.headers = headers or {}

    def body(self, request_id: str | None) -> dict[str, Any]:
        error: dict[str, Any] = {
            "code": self.code,
            "message": self.message,
            "request_id": request_id,
        }
        if self.details:
            error["details"] = self.details
        return {"error": error}


class BadRequest(ApiError, code="invalid_json"): ...


class InvalidParameter(ApiError, code="invalid_parameter"):
    """A query or path parameter off its declared format (digits, range, id pattern)."""

    def __init__(self, name: str, message: str):
        super().__init__(message, details=[{"field": name, "message": message}])


class Unauthorized(ApiError, code="invalid_token"):
    def __init__(self, message: str | None = None):
        super().__init__(message, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})


class NotFound(ApiError, code="not_found"): ...


class Conflict(ApiError, code="conflict"):
    """The request cannot apply to the resource as it is now; `code` says why."""

    # The reasons a conflict may name instead of the plain code (documented in docs/chat-api.md).
    codes = ("conflict", "not_last_message", "no_last_turn", "mood_timeline_off")

    def __init__(self, message: str | None = None, *, code: str | None = None):
        super().__init__(message)
        if code:
            if code not in self.codes:
                raise ValueError(f"{code!r} is not one of Conflict.codes")
            self.code = code


class MethodNotAllowed(ApiError, code="method_not_allowed"): ...


class PayloadTooLarge(ApiError, code="payload_too_large"): ...


class UnsupportedMediaType(ApiError, code="unsupported_media_type"): ...


class ValidationFailed(ApiError, code="validation_error"): ...


class IdempotencyKeyReused(ApiError, code="idempotency_key_reused"): ...


class RequestAlreadyAnswered(ApiError, code="idempotency_key_in_use"):
    """Two requests with one idempotency key ran at once; the other one's turn is stored."""


class RetryLater(ApiError):
    """A refusal the client may send again after `retry_after` seconds (at least one), which
    the answer's Retry-After header carries."""

    default_retry_after = 5

    def __init__(self, message: str | None = None, *, retry_after: int | None = None):
        seconds = self.default_retry_after if retry_after is None else retry_after
        retry_after = max(1, int(seconds))
        super().__init__(message, headers={"Retry-After": str(retry_after)})
        self.retry_after = retry_after


class Throttled(RetryLater, code="model_throttled"):
    default_retry_after = 2


class RateLimited(RetryLater, code="rate_limited"):
    """The caller's messages per minute or simultaneous streams are used up (the limits name
    the delay)."""


class QuotaExceeded(RateLimited, code="quota_exceeded"):
    """The caller's tokens for the day are used up."""


class AuthUnavailable(RetryLater, code="auth_unavailable"):
    """The user pool's signing keys cannot be fetched: the token can be neither accepted nor
    refused, so the answer is a retryable 503 rather than a 401 that signs the user out."""


class ModelUnavailable(RetryLater, code="model_unavailable"): ...


class StorageUnavailable(ApiError, code="storage_unavailable"): ...


class QueueUnavailable(ApiError, code="feedback_unavailable"): ...


class DeadlineExceeded(ApiError, code="model_timeout"): ...


class ModelError(ApiError, code="model_error"): ...


_WERKZEUG = {404: NotFound, 405: MethodNotAllowed, 413: PayloadTooLarge}


def register_error_handlers(app: Flask) -> None:
    def render(error: ApiError):
        response = jsonify(error.body(g.get("request_id")))
        response.status_code = error.status
        response.headers.update(error.headers)
        return response

    app.register_error_handler(ApiError, render)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        cls = _WERKZEUG.get(exc.code or 500)
        if cls is PayloadTooLarge:
            return render(
                cls(f"The request body exceeds {app.config['MAX_CONTENT_LENGTH']} bytes.")
            )
        if cls is MethodNotAllowed:
            # RFC 9110: a 405 names the methods the resource supports.
            error = cls()
            allowed = sorted(getattr(exc, "valid_methods", None) or [])
            if allowed:
                error.headers["Allow"] = ", ".join(allowed)
            return render(error)
        if cls is not None:
            return render(cls())
        error = ApiError(exc.description)
        error.status, error.code = exc.code or 500, (exc.name or "error").lower().replace(" ", "_")
        return render(error)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        app.logger.exception("unhandled error")
        return render(ApiError())
