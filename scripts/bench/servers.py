"""The processes a run starts, and the local model server's control endpoints."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import httpx

from local_stack.aws_bootstrap import create_user, sign_in
from local_stack.processes import CHAT_API_DIR, SCRIPTS_DIR, ManagedProcess, child_env

from .resources import process_tree

GUNICORN_CONF = CHAT_API_DIR / "gunicorn.conf.py"
BENCH_PASSWORD = "Bench-Passw0rd!x"  # noqa: S105 - local throwaway users of the local pool


class ModelServer:
    """The local model server's control endpoints."""

    def __init__(self, url: str):
        self._http = httpx.Client(base_url=url, timeout=10, trust_env=False)

    def configure(self, **settings) -> None:
        self._http.put("/_local/config", json=settings).raise_for_status()

    def reset_stats(self) -> None:
        self._http.post("/_local/stats/reset").raise_for_status()

    def stats(self) -> dict:
        return self._http.get("/_local/stats").json()

    def wait_idle(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while self.stats()["in_flight"] and time.monotonic() < deadline:
            time.sleep(0.2)

    def close(self) -> None:
        self._http.close()


class Stack:
    """The processes this run started; stop_all() stops each one by its pid."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.processes: list[ManagedProcess] = []
        self.pids: list[int] = []  # every process seen in their trees, for the record

    def start(self, process: ManagedProcess, timeout: float = 60) -> ManagedProcess:
        self.processes.append(process)
        process.start(timeout)
        self.pids += [proc.pid for proc in process_tree(process)]
        return process

    def stop_all(self) -> None:
        for process in reversed(self.processes):
            process.stop()


def local_url(port: int) -> str:
    return f"http://127.0.0.1:{port}"


def gunicorn_process(name: str, app: str, port: int, env: dict, log_path) -> ManagedProcess:
    """Any WSGI app under the chat API's gunicorn.conf.py (whose on_starting checks `env`)."""
    merged = child_env({**env, "CHAT_API_BIND": f"127.0.0.1:{port}"})
    argv = [sys.executable, "-m", "gunicorn", "-c", str(GUNICORN_CONF), app]
    return ManagedProcess(
        name,
        argv,
        env=merged,
        cwd=SCRIPTS_DIR,
        ready_url=f"http://127.0.0.1:{port}/api/v1/health",
        log_path=log_path,
    )


def sign_in_users(aws_url: str, config: dict, count: int) -> list[str]:
    tokens = []
    for index in range(count):
        email = f"bench-user-{index}@example.com"
        region, pool = config["AWS_REGION"], config["COGNITO_USER_POOL_ID"]
        create_user(aws_url, region, pool, email, BENCH_PASSWORD)
        result = sign_in(aws_url, region, config["COGNITO_APP_CLIENT_ID"], email, BENCH_PASSWORD)
        tokens.append(result["AccessToken"])
    return tokens
