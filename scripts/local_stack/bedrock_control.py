"""The local model server's control state: its settings (latency, the fault to inject), the
checks of a settings change, the fault kinds and which requests they hit, and the counters the
control API reports. Shared by every request of one server (bedrock_server.py)."""

import math
import threading
from dataclasses import asdict, dataclass

DEFAULT_TTFT_MS = 50.0
DEFAULT_INTER_TOKEN_MS = 10.0
MAX_DELAY_MS = 600_000.0

OPERATIONS = ("converse", "converse_stream")
# Fault kind -> (HTTP status, error type, message) for faults answered instead of a reply.
HTTP_FAULTS = {
    "throttle": (429, "ThrottlingException", "Too many requests, please wait before trying again."),
    "model_not_ready": (
        429,
        "ModelNotReadyException",
        "The model is not ready to serve inference requests. Try again later.",
    ),
    "unavailable": (503, "ServiceUnavailableException", "The service is currently unavailable."),
    "internal": (500, "InternalServerException", "The system encountered an internal error."),
}
MID_STREAM = "mid_stream"
GUARDRAIL = "guardrail"
FAULTS = (*HTTP_FAULTS, MID_STREAM, GUARDRAIL)
GUARDRAIL_STOP_REASON = "guardrail_intervened"
# Bedrock's default blocked-input message for a guardrail.
GUARDRAIL_MESSAGE = "Sorry, the model cannot answer this question."
MID_STREAM_EXCEPTION = "modelStreamErrorException"


class BadInput(ValueError):
    """A request or control value that cannot be accepted; its text is the 400 message."""


@dataclass
class Settings:
    """Run-time behaviour; changed by flags, PUT /_local/config, or per request by headers."""

    ttft_ms: float = DEFAULT_TTFT_MS
    inter_token_ms: float = DEFAULT_INTER_TOKEN_MS
    fault: str | None = None
    fault_count: int | None = None  # None: every request fails while a fault is set


def check_delay_ms(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadInput(f"{name} must be a number of milliseconds, got {value!r}")
    if not math.isfinite(value) or not 0 <= value <= MAX_DELAY_MS:
        raise BadInput(f"{name} must be between 0 and {MAX_DELAY_MS:.0f} milliseconds")
    return float(value)


def check_fault(name: str, value) -> str | None:
    if value is not None and value not in FAULTS:
        raise BadInput(f"{name} must be one of {', '.join(FAULTS)} or null, got {value!r}")
    return value


def check_fault_count(name: str, value) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise BadInput(f"{name} must be a non-negative integer or null, got {value!r}")
    return value


_SETTING_CHECKS = {
    "ttft_ms": check_delay_ms,
    "inter_token_ms": check_delay_ms,
    "fault": check_fault,
    "fault_count": check_fault_count,
}


def parse_settings_update(document) -> dict:
    """Validate a PUT /_local/config body into a dict of Settings fields."""
    if not isinstance(document, dict):
        raise BadInput("the config must be a JSON object")
    unknown = sorted(set(document) - set(_SETTING_CHECKS))
    if unknown:
        raise BadInput(
            f"unknown config field(s): {', '.join(unknown)}; "
            f"expected any of {', '.join(_SETTING_CHECKS)}"
        )
    return {name: _SETTING_CHECKS[name](name, value) for name, value in document.items()}


class ServerState:
    """Settings, the remaining fault count and the counters, shared by all requests."""

    def __init__(self, settings: Settings):
        self._lock = threading.Lock()
        self.settings = Settings(**asdict(settings))
        for name, value in asdict(self.settings).items():
            _SETTING_CHECKS[name](name, value)
        self.fault_remaining = self.settings.fault_count
        self.in_flight = 0
        self.last_request: dict | None = None
        self.reset_stats()

    def reset_stats(self) -> None:
        with self._lock:
            self.requests = dict.fromkeys(OPERATIONS, 0)
            self.completed = dict.fromkeys(OPERATIONS, 0)
            self.faults = dict.fromkeys(FAULTS, 0)
            self.validation_errors = 0
            # Open streams outlive a reset: in_flight is a gauge and is kept.
            self.peak_in_flight = self.in_flight

    def config(self) -> dict:
        with self._lock:
            return {**asdict(self.settings), "fault_remaining": self.fault_remaining}

    def update(self, changes: dict) -> dict:
        with self._lock:
            for name, value in changes.items():
                setattr(self.settings, name, value)
            if "fault" in changes or "fault_count" in changes:
                self.fault_remaining = self.settings.fault_count
        return self.config()

    def stats(self) -> dict:
        with self._lock:
            return {
                "requests": dict(self.requests),
                "faults": dict(self.faults),
                "validation_errors": self.validation_errors,
                "completed": dict(self.completed),
                "in_flight": self.in_flight,
                "peak_in_flight": self.peak_in_flight,
            }

    def count_request(self, operation: str) -> None:
        with self._lock:
            self.requests[operation] += 1

    def count_validation_error(self) -> None:
        with self._lock:
            self.validation_errors += 1

    def record_request(self, operation: str, system: str, guardrail_config: dict | None) -> None:
        with self._lock:
            self.last_request = {
                "operation": operation,
                "system": system,
                "guardrail_config": guardrail_config,
            }

    def choose_fault(
        self, operation: str, header_fault: str | None, guarded: bool = False
    ) -> str | None:
        """The fault to serve and count: the request header's if it has one (`none`: no
        fault, the server's count untouched), else the server's, using up one of its count."""
        with self._lock:
            if header_fault is not None:
                fault = None if header_fault == "none" else header_fault
            else:
                fault = self.settings.fault
                if self.fault_remaining is not None and self.fault_remaining <= 0:
                    return None
            if fault is None or not fault_applies(fault, operation, guarded):
                return None
            if header_fault is None and self.fault_remaining is not None:
                self.fault_remaining -= 1
            self.faults[fault] += 1
            return fault

    def begin(self) -> None:
        with self._lock:
            self.in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)

    def end(self, operation: str, completed: bool) -> None:
        with self._lock:
            self.in_flight -= 1
            if completed:
                self.completed[operation] += 1


def fault_applies(fault: str, operation: str, guarded: bool) -> bool:
    """mid_stream needs a stream; a guardrail can only intervene where one is configured."""
    if fault == MID_STREAM:
        return operation == "converse_stream"
    if fault == GUARDRAIL:
        return guarded
    return True
