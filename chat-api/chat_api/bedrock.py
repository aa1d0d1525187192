"""Amazon Bedrock Runtime through boto3: Converse and ConverseStream with bounded retries.

botocore's own retries are switched off for this client: they neither know
ModelNotReadyException nor respect an overall deadline. tenacity retries the call instead, with
exponential backoff and full jitter, until the attempts or the deadline run out. A stream is never
retried once its first event has arrived: the caller has already shown text to the user.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EventStreamError,
    ReadTimeoutError,
)
from botocore.exceptions import (
    ConnectionError as BotoConnectionError,
)
from tenacity import (
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_before_delay,
    wait_random_exponential,
)
from urllib3.exceptions import ReadTimeoutError as StreamReadTimeout

from .errors import ApiError, DeadlineExceeded, ModelError, ModelUnavailable, Throttled

log = logging.getLogger(__name__)

GUARDRAIL_STOP_REASON = "guardrail_intervened"


class GuardrailIntervened(ApiError, code="guardrail_intervened"):
    """The configured Bedrock guardrail blocked the message or the reply: a refusal, not a
    failure, so it has its own code and a message meant for the user."""

    message = (
        "Sorry, I can't help with that request. Please rephrase it, or ask about something else."
    )


RETRYABLE_CODES = {
    "ThrottlingException",
    "ModelNotReadyException",
    "ServiceUnavailableException",
    "InternalServerException",
    "ModelTimeoutException",
}


@dataclass(frozen=True)
class Reply:
    text: str
    usage: dict[str, int]
    stop_reason: str
    model_latency_ms: int | None = None


@dataclass(frozen=True)
class Delta:
    text: str


@dataclass(frozen=True)
class Done:
    usage: dict[str, int]
    stop_reason: str
    model_latency_ms: int | None = None


def _code(exc: BaseException) -> str | None:
    if isinstance(exc, ClientError):
        return exc.response.get("Error", {}).get("Code")
    return None


def is_retryable(exc: BaseException) -> bool:
    if isinstance(exc, ClientError):
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return _code(exc) in RETRYABLE_CODES or status >= 500
    # Read timeouts are not retried: the model may still be generating and a retry doubles cost.
    return isinstance(exc, (BotoConnectionError, ConnectTimeoutError)) and not isinstance(
        exc, ReadTimeoutError
    )


def to_api_error(exc: BaseException) -> ApiError:
    """Map a Bedrock failure to the API's error classes."""
    code = _code(exc)
    if isinstance(exc, EventStreamError):
        code = exc.response.get("Error", {}).get("Code") or code
        code = code[0].upper() + code[1:] if code else code
    if code == "ThrottlingException":
        return Throttled()
    if code in ("ModelNotReadyException", "ServiceUnavailableException"):
        return ModelUnavailable()
    # A stream that stalls after its response began times out in urllib3, under botocore.
    if code in ("ModelTimeoutException",) or isinstance(exc, ReadTimeoutError | StreamReadTimeout):
        return DeadlineExceeded()
    if code == "InternalServerException" or isinstance(exc, (BotoConnectionError, BotoCoreError)):
        return ModelUnavailable()
    if isinstance(exc, ClientError):
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        if status >= 500:
            return ModelUnavailable()
    log.error("bedrock call failed", extra={"error_code": code, "error_type": type(exc).__name__})
    return ModelError()


def _usage(raw: dict[str, Any] | None) -> dict[str, int]:
    raw = raw or {}
    inputs, outputs = int(raw.get("inputTokens", 0)), int(raw.get("outputTokens", 0))
    return {
        "input_tokens": inputs,
        "output_tokens": outputs,
        "total_tokens": int(raw.get("totalTokens", inputs + outputs)),
    }


def _latency(metrics: dict[str, Any] | None) -> int | None:
    """Bedrock's own measure of the invocation, so callers can tell model time from ours."""
    value = (metrics or {}).get("latencyMs")
    return int(value) if value is not None else None


class BedrockChat:
    def __init__(
        self,
        client,
        model_id: str,
        *,
        max_tokens: int,
        max_attempts: int,
        deadline_seconds: float,
        backoff_base: float = 0.2,
        backoff_max: float = 4.0,
        guardrail_id: str = "",
        guardrail_version: str = "",
    ) -> None:
        self._client = client
        self.model_id = model_id
        self._max_tokens = max_tokens
        self._max_attempts = max_attempts
        self._deadline = deadline_seconds
        self._backoff = wait_random_exponential(multiplier=backoff_base, max=backoff_max)
        self._guardrail = (
            {"guardrailIdentifier": guardrail_id, "guardrailVersion": guardrail_version}
            if guardrail_id
            else None
        )

    def _guardrail_config(self, streaming: bool) -> dict[str, Any]:
        if self._guardrail is None:
            return {}
        config = dict(self._guardrail)
        if streaming:
            # Synchronous: every chunk is checked before it is sent, so a blocked reply never
            # reaches the user (Bedrock's default for streams).
            config["streamProcessingMode"] = "sync"
        return {"guardrailConfig": config}

    def _request(
        self, system: str, messages: list[dict], streaming: bool, max_tokens: int | None = None
    ) -> dict[str, Any]:
        return {
            "modelId": self.model_id,
            "system": [{"text": system}],
            "messages": messages,
            "inferenceConfig": {"maxTokens": max_tokens or self._max_tokens},
            **self._guardrail_config(streaming),
        }

    def _with_retries(self, call, **request):
        started = time.monotonic()
        retrying = Retrying(
            retry=retry_if_exception(is_retryable),
            stop=stop_after_attempt(self._max_attempts) | stop_before_delay(self._deadline),
            wait=self._backoff,
            reraise=True,
            before_sleep=lambda state: log.warning(
                "bedrock retry",
                extra={
                    "attempt": state.attempt_number,
                    "error_code": _code(state.outcome.exception()),
                },
            ),
        )
        try:
            return retrying(call, **request)
        except ApiError:
            raise
        except Exception as exc:
            if time.monotonic() - started >= self._deadline:
                raise DeadlineExceeded() from exc
            raise to_api_error(exc) from exc

    def converse(
        self, system: str, messages: list[dict], *, max_tokens: int | None = None
    ) -> Reply:
        """One whole reply; `max_tokens` lowers the output budget for this call (titles)."""
        response = self._with_retries(
            self._client.converse,
            **self._request(system, messages, streaming=False, max_tokens=max_tokens),
        )
        if response.get("stopReason") == GUARDRAIL_STOP_REASON:
            log.info("guardrail intervened", extra={"error_code": GuardrailIntervened.code})
            raise GuardrailIntervened()
        content = response.get("output", {}).get("message", {}).get("content", [])
        text = "".join(block.get("text", "") for block in content)
        return Reply(
            text=text,
            usage=_usage(response.get("usage")),
            stop_reason=response["stopReason"],
            model_latency_ms=_latency(response.get("metrics")),
        )

    def open_stream(self, system: str, messages: list[dict]) -> ReplyStream:
        """Starts a ConverseStream (retried like converse until the response arrives)."""
        response = self._with_retries(
            self._client.converse_stream, **self._request(system, messages, streaming=True)
        )
        return ReplyStream(response["stream"])

    def check(self, timeout_client) -> None:
        """Readiness: the smallest Converse call the model accepts."""
        timeout_client.converse(
            modelId=self.model_id,
            messages=[{"role": "user", "content": [{"text": "ping"}]}],
            inferenceConfig={"maxTokens": 1},
            **self._guardrail_config(streaming=False),
        )


class ReplyStream:
    """Iterates text deltas then one Done; raises ApiError, never retries, if the stream breaks."""

    def __init__(self, stream) -> None:
        self._stream = stream

    def __iter__(self) -> Iterator[Delta | Done]:
        stop_reason, usage, metrics = "end_turn", None, None
        try:
            for event in self._stream:
                if "contentBlockDelta" in event:
                    text = event["contentBlockDelta"].get("delta", {}).get("text")
                    if text:
                        yield Delta(text)
                elif "messageStop" in event:
                    stop_reason = event["messageStop"].get("stopReason", stop_reason)
                    if stop_reason == GUARDRAIL_STOP_REASON:
                        log.info(
                            "guardrail intervened", extra={"error_code": GuardrailIntervened.code}
                        )
                        raise GuardrailIntervened()
                elif "metadata" in event:
                    usage = event["metadata"].get("usage")
                    metrics = event["metadata"].get("metrics")
        except ApiError:
            raise
        except Exception as exc:
            raise to_api_error(exc) from exc
        finally:
            self.close()
        yield Done(usage=_usage(usage), stop_reason=stop_reason, model_latency_ms=_latency(metrics))

    def close(self) -> None:
        """Frees the connection, also when the client went away mid-stream."""
        self._stream.close()
