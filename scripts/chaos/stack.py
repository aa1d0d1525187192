"""The stack the faults are injected into: `make run`'s processes on free 127.0.0.1 ports.

The same pieces as the local stack (local_stack.processes): the local AWS endpoint, the local
Bedrock-compatible model server, the chat API under Gunicorn and the feedback ingestion (the
Chalice SQS handler fed from the queue). Two differences, both for the faults:

- the local AWS endpoint is `chaos.durable_aws`, moto whose data survives a restart of its
  process (see that module);
- the stack can replace a process on its own port, as the platform would: ECS starts a new
  task when one ends; here the runner does it, and counts the time.
"""

from __future__ import annotations

import json
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from local_stack.aws_bootstrap import bootstrap
from local_stack.processes import (
    ManagedProcess,
    bedrock_process,
    chat_api_process,
    child_env,
    feedback_runner_process,
    free_port,
    local_url,
    port_is_free,
)

START_TIMEOUT = 60
# Each simulated person is one Cognito user; the faults, not the per-user limits, are tested.
UNLIMITED_TIERS = json.dumps(
    {
        "free": {
            "messages_per_minute": 100_000,
            "tokens_per_day": 1_000_000_000,
            "concurrent_streams": 1000,
        }
    }
)
# The chat API's settings for the run: two workers (one can be killed while the other serves),
# a model read timeout short enough that a stalled model is noticed within the run, and more
# time for storage calls than in AWS: the local endpoint runs DynamoDB writes one at a time and
# copies a table for each transaction, so its answers queue under 50 streams.
API_SETTINGS = {
    "WEB_CONCURRENCY": "2",
    "DYNAMODB_TIMEOUT": "10",
    "USAGE_TIERS": UNLIMITED_TIERS,
    "BEDROCK_READ_TIMEOUT": "3",
    "BEDROCK_DEADLINE": "10",
    "GRACEFUL_TIMEOUT": "15",
    "READINESS_CACHE_SECONDS": "0",
}
MODEL_LATENCY = ("--ttft-ms", "100", "--inter-token-ms", "40")


@dataclass
class ChaosStack:
    logs: Path
    aws_port: int = field(default_factory=free_port)
    model_port: int = field(default_factory=free_port)
    api_port: int = field(default_factory=free_port)
    config: dict[str, str] = field(default_factory=dict)
    aws: ManagedProcess | None = None
    model: ManagedProcess | None = None
    api: ManagedProcess | None = None
    feedback: ManagedProcess | None = None
    _api_generation: int = 0
    _aws_generation: int = 0

    @property
    def aws_url(self) -> str:
        return local_url(self.aws_port)

    @property
    def model_url(self) -> str:
        return local_url(self.model_port)

    @property
    def api_url(self) -> str:
        return local_url(self.api_port)

    def start(self) -> ChaosStack:
        self.logs.mkdir(parents=True, exist_ok=True)
        self.recording = self.logs / "local-aws-recording.jsonl"
        self.recording.unlink(missing_ok=True)
        self.aws = self._aws_process().start(START_TIMEOUT)
        self.config = bootstrap(
            self.aws_url,
            chat_api_url=self.api_url,
            bedrock_url=self.model_url,
            prefix="chatbot-chaos",
        )
        self.model = bedrock_process(
            self.model_port, extra_args=MODEL_LATENCY, log_path=self.logs / "local-bedrock.log"
        ).start(START_TIMEOUT)
        self.api = self._api_process().start(START_TIMEOUT)
        self.feedback = feedback_runner_process(
            self.config, log_path=self.logs / "feedback-ingestion.log"
        ).start(START_TIMEOUT)
        return self

    def stop(self) -> None:
        for process in (self.feedback, self.api, self.model, self.aws):
            if process is not None:
                process.stop()

    def _aws_process(self) -> ManagedProcess:
        self._aws_generation += 1
        return ManagedProcess(
            "local-aws",
            [
                sys.executable,
                "-m",
                "chaos.durable_aws",
                "--port",
                self.aws_port,
                "--recording",
                self.recording,
            ],
            env=child_env(
                {
                    "MOTO_COGNITO_IDP_USER_POOL_ID_STRATEGY": "HASH",
                    "MOTO_COGNITO_IDP_USER_POOL_ENABLE_TOTP": "true",
                }
            ),
            ready_url=f"{self.aws_url}/moto-api/",
            log_path=self.logs / f"local-aws-{self._aws_generation}.log",
        )

    def _api_process(self) -> ManagedProcess:
        self._api_generation += 1
        return chat_api_process(
            self.api_port,
            {**self.config, **API_SETTINGS},
            log_path=self.logs / f"chat-api-{self._api_generation}.log",
        )

    # --- the faults' moves ---------------------------------------------------------------

    def stop_aws(self) -> None:
        """The endpoint goes away at once: SIGKILL, nothing flushed, connections refused."""
        self.aws.send_signal(signal.SIGKILL)
        self.aws.stop()

    def start_aws(self) -> None:
        self.aws = self._aws_process().start(START_TIMEOUT)

    def worker_pids(self) -> list[int]:
        """The Gunicorn workers: the children of the API's master process."""
        children = Path(f"/proc/{self.api.pid}/task/{self.api.pid}/children")
        return [int(pid) for pid in children.read_text().split()]

    def replace_api(self, timeout: float = 60) -> None:
        """After the old instance has gone: a new one on the same port (the platform's move)."""
        deadline = time.monotonic() + timeout
        while not port_is_free(self.api_port):
            if time.monotonic() > deadline:
                raise RuntimeError(f"port {self.api_port} still busy after {timeout} s")
            time.sleep(0.05)
        self.api = self._api_process().start(START_TIMEOUT)

    def model_control(self) -> httpx.Client:
        return httpx.Client(base_url=self.model_url, timeout=10)


def wait_for_exit(process: ManagedProcess, timeout: float) -> int | None:
    deadline = time.monotonic() + timeout
    while process.is_running() and time.monotonic() < deadline:
        time.sleep(0.05)
    return process.returncode
