"""One error shape for every failure: {"error": {"code", "message", "request_id"}}."""

from __future__ import annotations

from typing import Any

from flask import Flask, g, jsonify
from werkzeug.exceptions import HTTPException


class ApiError(Exception):
    status = 500
    code = "internal_error"
    message = "The server could not complete the request."

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


class BadRequest(ApiError):
    status, code = 400, "invalid_json"


class InvalidParameter(ApiError):
    """A query or path parameter off its declared format (digits, range, id pattern)."""

    status, code = 400, "invalid_parameter"
    message = "A parameter is not valid."

    def __init__(self, name: str, message: str):
        super().__init__(message, details=[{"field": name, "message": message}])


class Unauthorized(ApiError):
    status, code = 401, "invalid_token"
    message = "A valid Cognito access token is required."

    def __init__(self, message: str | None = None):
        super().__init__(message, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})


class NotFound(ApiError):
    status, code = 404, "not_found"
    message = "No such resource."


class Conflict(ApiError):
    """The request cannot apply to the resource as it is now; `code` says why."""

    status, code = 409, "conflict"
    message = "The resource changed or is in a state that does not allow this."
    # The reasons a conflict may name instead of the plain code (documented in docs/chat-api.md).
    codes = ("conflict", "not_last_message", "no_last_turn", "mood_timeline_off")

    def __init__(self, message: str | None = None, *, code: str | None = None):
        super().__init__(message)
        if code:
            if code not in self.codes:
                raise ValueError(f"{code!r} is not one of Conflict.codes")
            self.code = code


class MethodNotAllowed(ApiError):
    status, code = 405, "method_not_allowed"
    message = "The method is not allowed for this resource."


class PayloadTooLarge(ApiError):
    status, code = 413, "payload_too_large"


class UnsupportedMediaType(ApiError):
    status, code = 415, "unsupported_media_type"
    message = "The request body must be application/json."


class ValidationFailed(ApiError):
    status, code = 422, "validation_error"
    message = "The request body is not valid."


class IdempotencyKeyReused(ApiError):
    status, code = 422, "idempotency_key_reused"
    message = "This idempotency key was sent with another request body; use a new key."


class RequestAlreadyAnswered(ApiError):
    """Two requests with one idempotency key ran at once; the other one's turn is stored."""

    status, code = 409, "idempotency_key_in_use"
    message = (
        "Another request with this idempotency key stored its reply first; send the request "
        "again to receive that reply."
    )


class RetryLater(ApiError):
    """A refusal the client may send again after `retry_after` seconds (at least one), which
    the answer's Retry-After header carries."""

    default_retry_after = 5

    def __init__(self, message: str | None = None, *, retry_after: int | None = None):
        seconds = self.default_retry_after if retry_after is None else retry_after
        retry_after = max(1, int(seconds))
        super().__init__(message, headers={"Retry-After": str(retry_after)})
        self.retry_after = retry_after


class Throttled(RetryLater):
    status, code = 429, "model_throttled"
    message = "The model is busy; retry after the indicated delay."
    default_retry_after = 2


class RateLimited(RetryLater):
    """The caller's messages per minute or simultaneous streams are used up (the limits name
    the delay)."""

    status, code = 429, "rate_limited"
    message = "Too many requests; retry after the indicated delay."


class QuotaExceeded(RateLimited):
    """The caller's tokens for the day are used up."""

    code = "quota_exceeded"
    message = "Today's usage quota is used up; it resets at midnight UTC."


class AuthUnavailable(RetryLater):
    """The user pool's signing keys cannot be fetched: the token can be neither accepted nor
    refused, so the answer is a retryable 503 rather than a 401 that signs the user out."""

    status, code = 503, "auth_unavailable"
    message = "Sign-in cannot be checked right now; try again shortly."


class ModelUnavailable(RetryLater):
    status, code = 503, "model_unavailable"
    message = "The model is unavailable; try again later."


class StorageUnavailable(ApiError):
    status, code = 503, "storage_unavailable"
    message = "Conversation storage is unavailable; try again later."


class QueueUnavailable(ApiError):
    status, code = 503, "feedback_unavailable"
    message = "Feedback could not be queued; try again later."


class DeadlineExceeded(ApiError):
    status, code = 504, "model_timeout"
    message = "The model did not answer in time."


class ModelError(ApiError):
    status, code = 502, "model_error"
    message = "The model failed to produce a reply."


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
