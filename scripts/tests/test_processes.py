"""ManagedProcess against real processes: a stdlib HTTP server and small Python scripts."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
import time
import urllib.request

import pytest

from local_stack.processes import (
    WEB_UI_SETTINGS,
    ManagedProcess,
    ProcessStartError,
    chat_api_process,
    child_env,
    feedback_runner_process,
    free_port,
    moto_process,
    port_is_free,
)

# Starts servers or processes of its own: not in `make test-fast`.
pytestmark = [pytest.mark.timeout(60), pytest.mark.stack]


def pid_alive(pid: int) -> bool:
    """True while `pid` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def wait_for_file(path, deadline_s: float = 10) -> str:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().strip():
            return path.read_text().strip()
        time.sleep(0.05)
    raise AssertionError(f"{path} was never written")


def http_server(port: int, tmp_path, **kwargs) -> ManagedProcess:
    return ManagedProcess(
        "http-server",
        [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(port)],
        cwd=tmp_path,
        log_path=tmp_path / "http-server.log",
        **kwargs,
    )


def test_free_port_is_free_and_a_listener_makes_it_busy():
    port = free_port()
    assert port_is_free(port)
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", port))
        listener.listen()
        assert not port_is_free(port)
    assert port_is_free(port)


def test_start_waits_for_the_url_and_stop_frees_the_port(tmp_path):
    (tmp_path / "hello.txt").write_text("hello")
    port = free_port()
    server = http_server(port, tmp_path, ready_url=f"http://127.0.0.1:{port}/hello.txt")
    assert server.pid is None and server.stop() is None  # stop before start is harmless

    assert server.start() is server
    assert server.is_running() and server.returncode is None
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/hello.txt") as response:
        assert response.read() == b"hello"
    assert os.getpgid(server.pid) == server.pid  # its own process group
    assert os.getsid(server.pid) == server.pid  # and its own session

    code = server.stop()
    assert code == -signal.SIGTERM
    assert not server.is_running() and not pid_alive(server.pid)
    assert port_is_free(port)  # free at once for the next start
    assert server.stop() == code  # idempotent


def test_ready_port_and_context_manager(tmp_path):
    port = free_port()
    with http_server(port, tmp_path, ready_port=port) as server:
        assert not port_is_free(port)
        pid = server.pid
    assert not pid_alive(pid)
    assert port_is_free(port)


def test_stop_kills_what_the_process_left_in_its_group(tmp_path):
    # A leader that spawns a grandchild ignoring SIGTERM, then serves HTTP.
    grandchild_pid_file = tmp_path / "grandchild.pid"
    script = tmp_path / "leader.py"
    script.write_text(
        "import subprocess, sys\n"
        "child = subprocess.Popen([sys.executable, '-c', "
        "'import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "time.sleep(600)'])\n"
        f"open({str(grandchild_pid_file)!r}, 'w').write(str(child.pid))\n"
        "import runpy; sys.argv = ['http.server', '--bind', '127.0.0.1', sys.argv[1]]\n"
        "runpy.run_module('http.server', run_name='__main__')\n"
    )
    port = free_port()
    leader = ManagedProcess(
        "leader",
        [sys.executable, str(script), str(port)],
        ready_port=port,
        log_path=tmp_path / "leader.log",
    ).start()
    grandchild = int(wait_for_file(grandchild_pid_file))
    try:
        assert pid_alive(grandchild) and os.getpgid(grandchild) == leader.pid

        leader.stop()
        deadline = time.monotonic() + 10
        while pid_alive(grandchild) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not pid_alive(grandchild)
    finally:
        # Do not leave it behind if the test fails (and only if the pid is still that process).
        with contextlib.suppress(ProcessLookupError):
            if os.getpgid(grandchild) == leader.pid:
                os.kill(grandchild, signal.SIGKILL)


def test_a_process_ignoring_sigterm_is_killed_after_the_timeout(tmp_path):
    stubborn = ManagedProcess(
        "stubborn",
        [
            sys.executable,
            "-c",
            "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
            "print('up', flush=True); time.sleep(600)",
        ],
        log_path=tmp_path / "stubborn.log",
    ).start()
    wait_for_file(tmp_path / "stubborn.log")  # SIGTERM is ignored from here on
    assert stubborn.stop(timeout=0.5) == -signal.SIGKILL
    assert not pid_alive(stubborn.pid)


def test_start_failure_raises_with_the_log_tail(tmp_path):
    crashing = ManagedProcess(
        "crashing",
        [sys.executable, "-c", "import sys; print('first line'); sys.exit('boom: bad config')"],
        ready_port=free_port(),
        log_path=tmp_path / "logs" / "crashing.log",
    )
    with pytest.raises(ProcessStartError) as raised:
        crashing.start()
    message = str(raised.value)
    assert "crashing exited with code 1" in message
    assert "boom: bad config" in message and "first line" in message
    assert str(tmp_path / "logs" / "crashing.log") in message


def test_never_ready_raises_after_the_timeout_and_stops_the_process(tmp_path):
    silent = ManagedProcess(
        "silent",
        [
            sys.executable,
            "-c",
            "print('waiting forever', flush=True); import time; time.sleep(600)",
        ],
        ready_port=free_port(),
        log_path=tmp_path / "silent.log",
    )
    with pytest.raises(ProcessStartError, match="silent was not ready") as raised:
        silent.start(timeout=1)
    assert "waiting forever" in str(raised.value)
    assert not silent.is_running() and not pid_alive(silent.pid)


def test_ready_url_must_be_local():
    with pytest.raises(ValueError, match="127.0.0.1"):
        ManagedProcess("remote", ["true"], ready_url="http://example.com/health")


def test_child_env_puts_the_repo_on_the_python_path(tmp_path):
    out = tmp_path / "out.txt"
    code = (
        "import local_stack.processes, os, sys; "
        f"open({str(out)!r}, 'w').write(os.environ['PYTHONPATH'] + '|' + os.environ['X_TEST'])"
    )
    proc = ManagedProcess(
        "env", [sys.executable, "-c", code], env=child_env({"X_TEST": "1"}), cwd=tmp_path
    ).start()
    value = wait_for_file(out)
    proc.stop()
    paths, marker = value.split("|")
    assert marker == "1"
    assert any(p.endswith("scripts") for p in paths.split(os.pathsep))
    assert any(p.endswith("chat-api") for p in paths.split(os.pathsep))


def test_the_client_secret_reaches_only_the_web_app(tmp_path):
    config = {"COGNITO_APP_CLIENT_ID": "client", "COGNITO_WEB_CLIENT_SECRET": "s3cret"}
    api = chat_api_process(free_port(), config)
    feedback = feedback_runner_process(config, python=sys.executable)
    assert "COGNITO_WEB_CLIENT_SECRET" not in api.env
    assert "COGNITO_WEB_CLIENT_SECRET" not in feedback.env
    assert api.env["COGNITO_APP_CLIENT_ID"] == "client"
    assert "COGNITO_WEB_CLIENT_SECRET" in WEB_UI_SETTINGS


def test_the_local_aws_endpoint_checks_authenticator_codes():
    env = moto_process(free_port()).env
    assert env["MOTO_COGNITO_IDP_USER_POOL_ENABLE_TOTP"] == "true"


def test_the_chat_api_gets_only_the_aws_settings_it_is_given(monkeypatch):
    """The developer's own profile and session token stay out of a local process."""
    monkeypatch.setenv("AWS_PROFILE", "developer-admin")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "real-session")
    monkeypatch.setenv("HOME_TOOL_SETTING", "kept")
    process = chat_api_process(free_port(), {"AWS_REGION": "us-east-1", "APP_ENV": "local"})
    aws = {key: value for key, value in process.env.items() if key.startswith("AWS_")}
    assert aws == {"AWS_REGION": "us-east-1"}
    assert process.env["HOME_TOOL_SETTING"] == "kept"
