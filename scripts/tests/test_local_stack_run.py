"""`python -m local_stack` (what `make run` starts) as a real process on free ports."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import boto3
import psutil
import pytest

from local_stack.aws_bootstrap import DEMO_USER_EMAIL, DEMO_USER_PASSWORD, sign_in
from local_stack.processes import REPO_ROOT, free_port, port_is_free

pytestmark = pytest.mark.timeout(240)

READY_LINE = "Ready. Press Ctrl-C to stop."
CHAT_API_FILES = ("chat-api/chat_api/__init__.py", "chat-api/gunicorn.conf.py")


def chat_api_missing() -> bool:
    return not all((REPO_ROOT / name).exists() for name in CHAT_API_FILES)


class Stack:
    """One `python -m local_stack` run whose output is collected by a reader thread."""

    def __init__(self, env: dict[str, str]):
        self.lines: list[str] = []
        self.ready = threading.Event()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "local_stack"],
            cwd=REPO_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))
            if line.strip() == READY_LINE:
                self.ready.set()
        self.ready.set()  # end of output: wake the waiter, which then sees the exit

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_ready(self, timeout: float = 150) -> None:
        self.ready.wait(timeout)
        assert READY_LINE in self.lines, f"the stack never got ready:\n{self.output}"

    def children(self, recursive: bool = True) -> list[psutil.Process]:
        """The servers (recursive=False), or also everything they started."""
        return psutil.Process(self.process.pid).children(recursive=recursive)

    def finish(self, timeout: float = 60) -> int:
        code = self.process.wait(timeout)
        self.ready.wait(5)  # the reader has seen the last line
        return code

    def kill(self) -> None:
        """Safety net for a failing test: take down the stack and everything it started."""
        if self.process.poll() is None:
            leftovers = self.children()
            self.process.kill()
            self.process.wait()
            for child in leftovers:
                try:
                    group = os.getpgid(child.pid)
                    if group != os.getpgid(0):
                        os.killpg(group, signal.SIGKILL)
                except ProcessLookupError:
                    pass


def alive(processes: list[psutil.Process], timeout: float = 10) -> list[psutil.Process]:
    """The processes still alive (zombies count as gone) once `timeout` has passed."""
    deadline = time.monotonic() + timeout
    while True:
        running = []
        for process in processes:
            try:
                if process.is_running() and process.status() != psutil.STATUS_ZOMBIE:
                    running.append(process)
            except psutil.NoSuchProcess:
                pass
        if not running or time.monotonic() >= deadline:
            return running
        time.sleep(0.1)


def read_env_file(path: Path) -> dict[str, str]:
    lines = path.read_text().splitlines()
    assert lines[0].startswith("#")
    pairs = (line.split("=", 1) for line in lines if line and not line.startswith("#"))
    return dict(pairs)


def http_status(url: str) -> int:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status


@pytest.fixture
def stack_env(tmp_path):
    ports = {"LOCAL_AWS_PORT": free_port(), "LOCAL_BEDROCK_PORT": free_port()}
    ports["CHAT_API_PORT"] = free_port()
    ports["WEB_APP_PORT"] = free_port()
    env = dict(os.environ)
    env.update({name: str(port) for name, port in ports.items()})
    env["LOCAL_STACK_DIR"] = str(tmp_path / "state")
    env["PYTHONPATH"] = str(REPO_ROOT / "scripts")
    env["WEB_CONCURRENCY"] = "1"  # keep the test light on a small machine
    return env, ports


@pytest.fixture
def stacks():
    started: list[Stack] = []

    def start(env: dict[str, str]) -> Stack:
        started.append(Stack(env))
        return started[-1]

    yield start
    for stack in started:
        stack.kill()


def assert_all_stopped(servers: list[psutil.Process], everything: list[psutil.Process]) -> None:
    # The stack waits for each server before it exits, so those are gone at once; what the
    # servers started themselves (Gunicorn's workers) may take a moment longer.
    assert alive(servers, timeout=0) == []
    assert alive(everything) == []


def assert_thumbs_up_reaches_the_feedback_table(
    chat_api_url: str, token: str, config: dict
) -> None:
    def post(path: str, body: dict) -> dict:
        request = urllib.request.Request(
            f"{chat_api_url}/api/v1{path}",
            data=json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())

    reply = post("/chat", {"message": "I passed my exam!"})
    rated = post(
        "/feedback",
        {
            "conversation_id": reply["conversation_id"],
            "message_id": reply["message_id"],
            "rating": "up",
        },
    )
    dynamodb = boto3.client(
        "dynamodb",
        endpoint_url=config["AWS_ENDPOINT_URL"],
        region_name=config["AWS_REGION"],
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    key = {"feedback_id": {"S": rated["feedback_id"]}}
    deadline = time.monotonic() + 10
    while "Item" not in dynamodb.get_item(TableName=config["FEEDBACK_TABLE"], Key=key):
        assert time.monotonic() < deadline, "the thumbs up never reached the feedback table"
        time.sleep(0.2)


def test_busy_port_is_named_with_its_variable(stack_env, stacks):
    env, ports = stack_env
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", ports["LOCAL_BEDROCK_PORT"]))
        listener.listen()
        stack = stacks(env)
        code = stack.finish()
    assert code == 1
    assert len(stack.lines) == 1, stack.output
    assert str(ports["LOCAL_BEDROCK_PORT"]) in stack.output
    assert "LOCAL_BEDROCK_PORT" in stack.output
    assert port_is_free(ports["LOCAL_AWS_PORT"])  # nothing was started


def test_bad_port_value_is_one_clear_line(stack_env, stacks):
    env, _ = stack_env
    env["CHAT_API_PORT"] = "eighty"
    stack = stacks(env)
    assert stack.finish() == 1
    assert stack.lines == ["CHAT_API_PORT=eighty is not a TCP port number (1-65535)."]


def test_run_stop_and_run_again_on_the_same_ports(stack_env, stacks):
    if chat_api_missing():
        pytest.skip("chat API not present")
    env, ports = stack_env
    state = Path(env["LOCAL_STACK_DIR"])
    chat_api_url = f"http://127.0.0.1:{ports['CHAT_API_PORT']}"

    first = stacks(env)
    first.wait_ready()
    config = read_env_file(state / "stack.env")
    assert config["CHAT_API_URL"] == chat_api_url
    assert config["AWS_ENDPOINT_URL"] == f"http://127.0.0.1:{ports['LOCAL_AWS_PORT']}"
    assert config["AWS_ENDPOINT_URL_BEDROCK_RUNTIME"] == (
        f"http://127.0.0.1:{ports['LOCAL_BEDROCK_PORT']}"
    )
    assert config["APP_ENV"] == "local"
    for expected in (chat_api_url, "/api/v1/openapi.json", DEMO_USER_EMAIL, DEMO_USER_PASSWORD):
        assert expected in first.output
    assert http_status(f"{chat_api_url}/api/v1/health") == 200
    assert http_status(f"http://127.0.0.1:{ports['WEB_APP_PORT']}/") == 200
    for name in ("local-aws", "local-bedrock", "chat-api", "feedback-ingestion", "web-app"):
        assert (state / "logs" / f"{name}.log").exists()
    # The printed demo credentials work against the printed configuration.
    tokens = sign_in(
        config["AWS_ENDPOINT_URL"],
        config["AWS_REGION"],
        config["COGNITO_APP_CLIENT_ID"],
        DEMO_USER_EMAIL,
        DEMO_USER_PASSWORD,
    )
    assert tokens["AccessToken"]
    assert_thumbs_up_reaches_the_feedback_table(chat_api_url, tokens["AccessToken"], config)

    servers, everything = first.children(recursive=False), first.children()
    # moto, model server, Gunicorn (+ worker), feedback runner, web app (+ its frontend server)
    assert len(servers) == 5 and len(everything) > 5
    first.process.send_signal(signal.SIGTERM)
    assert first.finish() == 0, first.output
    assert_all_stopped(servers, everything)
    assert all(port_is_free(port) for port in ports.values())

    # Straight away, same ports; this time a server dies under it.
    second = stacks(env)
    second.wait_ready()
    assert http_status(f"{chat_api_url}/api/v1/health") == 200
    servers, everything = second.children(recursive=False), second.children()
    model_server = next(
        child for child in servers if "local_stack.bedrock_server" in " ".join(child.cmdline())
    )
    model_server.kill()
    assert second.finish() == 1, second.output
    assert "local-bedrock stopped unexpectedly" in second.output
    assert_all_stopped(servers, everything)
    assert all(port_is_free(port) for port in ports.values())


def test_ctrl_c_stops_everything(stack_env, stacks):
    if chat_api_missing():
        pytest.skip("chat API not present")
    env, ports = stack_env
    stack = stacks(env)
    stack.wait_ready()
    servers, everything = stack.children(recursive=False), stack.children()
    stack.process.send_signal(signal.SIGINT)
    assert stack.finish() == 0, stack.output
    assert stack.lines[-1] == "Stopped."
    assert_all_stopped(servers, everything)
    assert all(port_is_free(port) for port in ports.values())
