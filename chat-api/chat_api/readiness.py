"""Readiness: can this instance reach Bedrock and DynamoDB now? Cached so probes stay cheap."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

log = logging.getLogger(__name__)


class Readiness:
    def __init__(self, checks: dict[str, Callable[[], None]], *, cache_seconds: float) -> None:
        self._checks = checks
        self._cache_seconds = cache_seconds
        self._lock = threading.Lock()
        self._result: dict[str, str] | None = None
        self._checked_at = float("-inf")

    def status(self) -> dict[str, str]:
        with self._lock:
            if self._result is None or time.monotonic() - self._checked_at >= self._cache_seconds:
                self._result = self._run()
                self._checked_at = time.monotonic()
            return dict(self._result)

    def _run(self) -> dict[str, str]:
        with ThreadPoolExecutor(max_workers=len(self._checks)) as pool:
            futures = {name: pool.submit(check) for name, check in self._checks.items()}
        result = {}
        for name, future in futures.items():
            error = future.exception()
            result[name] = "ok" if error is None else "failing"
            if error is not None:
                log.warning(
                    "readiness check failed", extra={"dependency": name, "error": repr(error)}
                )
        return result
