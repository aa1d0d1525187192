"""What one model request asks for: its Converse/ConverseStream body, checked the way Bedrock
checks it, and the per-request overrides of the server's settings (request headers)."""

from dataclasses import dataclass

from flask import request

from local_stack.bedrock_control import (
    FAULTS,
    BadInput,
    Settings,
    check_delay_ms,
)

MAX_OUTPUT_TOKENS = 8192
TTFT_HEADER = "X-Local-Bedrock-Ttft-Ms"
INTER_TOKEN_HEADER = "X-Local-Bedrock-Inter-Token-Ms"  # noqa: S105 (a header name)
FAULT_HEADER = "X-Local-Bedrock-Fault"


@dataclass(frozen=True)
class RequestPlan:
    """What one model request will do: timing and fault after header overrides."""

    ttft_s: float
    inter_token_s: float
    fault: str | None


def _header_delay(name: str, default_ms: float) -> float:
    raw = request.headers.get(name)
    if raw is None:
        return default_ms / 1000
    try:
        value = float(raw)
    except ValueError:
        raise BadInput(f"{name} must be a number of milliseconds, got {raw!r}") from None
    return check_delay_ms(name, value) / 1000


def request_overrides(settings: Settings) -> RequestPlan:
    """Timing and fault from the request headers; ``fault`` is the raw header (None: absent)."""
    ttft_s = _header_delay(TTFT_HEADER, settings.ttft_ms)
    inter_token_s = _header_delay(INTER_TOKEN_HEADER, settings.inter_token_ms)
    fault = request.headers.get(FAULT_HEADER)
    if fault is not None:
        fault = fault.strip().lower()
        if fault != "none" and fault not in FAULTS:
            raise BadInput(f"{FAULT_HEADER} must be one of {', '.join(FAULTS)} or none")
    return RequestPlan(ttft_s, inter_token_s, fault)


def _path(*parts) -> str:
    return ".".join(str(part) for part in parts)


def _check_text_blocks(blocks, where: str, allow_other: bool) -> None:
    if not isinstance(blocks, list):
        raise BadInput(f"{where} must be a list of content blocks")
    for index, block in enumerate(blocks):
        if not isinstance(block, dict) or not block:
            raise BadInput(f"{_path(where, index)} must be a content block object")
        if "text" in block:
            if not isinstance(block["text"], str) or not block["text"].strip():
                raise BadInput(
                    f"The text field in the ContentBlock object at {_path(where, index)} is "
                    "blank. Add text to the text field, and try again."
                )
        elif not allow_other:
            kind = next(iter(block))
            raise BadInput(
                f"The local model supports text content only; found {kind!r} at "
                f"{_path(where, index)}."
            )


def _check_number(config: dict, name: str, low: float, high: float) -> None:
    value = config.get(name)
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise BadInput(
            f"1 validation error detected: Value {value!r} at 'inferenceConfig.{name}' failed "
            f"to satisfy constraint: Member must be a number between {low:g} and {high:g}"
        )


def validate_guardrail_config(body: dict, operation: str) -> dict | None:
    """The optional guardrailConfig, checked like Bedrock (identifier and version required)."""
    config = body.get("guardrailConfig")
    if config is None:
        return None
    if not isinstance(config, dict):
        raise BadInput("guardrailConfig must be an object")
    for name in ("guardrailIdentifier", "guardrailVersion"):
        value = config.get(name)
        if not isinstance(value, str) or not value.strip():
            raise BadInput(f"guardrailConfig.{name} is required and must be a non-empty string")
    modes = ("sync", "async")
    if "streamProcessingMode" in config:
        if operation != "converse_stream":
            raise BadInput("guardrailConfig.streamProcessingMode is only valid for ConverseStream")
        if config["streamProcessingMode"] not in modes:
            raise BadInput("guardrailConfig.streamProcessingMode must be sync or async")
    return config


def validate_converse_body(body) -> tuple[list, list, int | None]:
    """Check a Converse/ConverseStream body like Bedrock; return (system, messages, maxTokens)."""
    if not isinstance(body, dict):
        raise BadInput("The request body must be a JSON object.")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise BadInput("The messages field is required and must contain at least one message.")
    for index, message in enumerate(messages):
        where = _path("messages", index)
        if not isinstance(message, dict):
            raise BadInput(f"{where} must be a message object")
        role = message.get("role")
        if role not in ("user", "assistant"):
            raise BadInput(f"{where}.role must be user or assistant, got {role!r}")
        expected = "user" if index % 2 == 0 else "assistant"
        if role != expected:
            if index == 0:
                raise BadInput(
                    "A conversation must start with a user message. Try again with a "
                    "conversation that starts with a user message."
                )
            raise BadInput(
                "A conversation must alternate between user and assistant roles. Make sure "
                "the conversation alternates between user and assistant roles and try again."
            )
        content = message.get("content")
        if not isinstance(content, list) or not content:
            raise BadInput(f"{where}.content must be a non-empty list of content blocks")
        _check_text_blocks(content, f"{where}.content", allow_other=False)
    system = body.get("system", [])
    _check_text_blocks(system, "system", allow_other=True)
    config = body.get("inferenceConfig", {})
    if not isinstance(config, dict):
        raise BadInput("inferenceConfig must be an object")
    max_tokens = config.get("maxTokens")
    if max_tokens is not None and (
        isinstance(max_tokens, bool)
        or not isinstance(max_tokens, int)
        or not 1 <= max_tokens <= MAX_OUTPUT_TOKENS
    ):
        raise BadInput(
            f"1 validation error detected: Value {max_tokens!r} at 'inferenceConfig.maxTokens' "
            f"failed to satisfy constraint: Member must be an integer between 1 and "
            f"{MAX_OUTPUT_TOKENS}"
        )
    _check_number(config, "temperature", 0, 1)
    _check_number(config, "topP", 0, 1)
    stops = config.get("stopSequences", [])
    if not isinstance(stops, list) or not all(isinstance(s, str) and s for s in stops):
        raise BadInput("inferenceConfig.stopSequences must be a list of non-empty strings")
    return system, messages, max_tokens
