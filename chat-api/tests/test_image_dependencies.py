"""The image's install steps, replayed in a fresh virtual environment (no Docker engine here):
the runtime requirements alone must run the chat API."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import venv

import httpx
import pytest

from local_stack.processes import REPO_ROOT, ManagedProcess, child_env, free_port
from support import api_env

DOCKERFILE = (REPO_ROOT / "Dockerfile").read_text()
MAX_RUNTIME_MB = 500


def _du_mb(path) -> float:
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            full = os.path.join(root, name)
            if not os.path.islink(full):
                total += os.path.getsize(full)
    return total / 1e6


def test_dockerfile_installs_only_the_runtime_requirements():
    assert "COPY chat-api/requirements.txt /tmp/requirements.txt" in DOCKERFILE
    assert re.search(r"pip install --no-compile -r /tmp/requirements.txt", DOCKERFILE)
    assert "COPY chat-api/chat_api ./chat_api" in DOCKERFILE
    assert "USER 10001:10001" in DOCKERFILE


@pytest.fixture(scope="module")
def runtime_venv(tmp_path_factory):
    target = tmp_path_factory.mktemp("image") / "venv"
    venv.EnvBuilder(with_pip=True).create(target)
    python = target / "bin" / "python"
    subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-compile",
            "--disable-pip-version-check",
            "-r",
            str(REPO_ROOT / "chat-api/requirements.txt"),
        ],
        check=True,
        capture_output=True,
        timeout=600,
    )
    return target


def test_runtime_requirements_run_the_chat_api(runtime_venv, stack, fresh_user, tmp_path):
    site = next((runtime_venv / "lib").glob("python3.*/site-packages"))
    size = _du_mb(site)
    print(f"chat API runtime dependencies: {size:.0f} MB in {site}")
    assert size <= MAX_RUNTIME_MB
    port = free_port()
    env = child_env({**api_env(stack), "CHAT_API_BIND": f"127.0.0.1:{port}"})
    env["PYTHONPATH"] = ""  # only what the image has: the venv and the app folder (the cwd)
    process = ManagedProcess(
        "image-chat-api",
        [
            str(runtime_venv / "bin" / "python"),
            "-m",
            "gunicorn",
            "-c",
            "gunicorn.conf.py",
            "chat_api:create_app()",
        ],
        env=env,
        cwd=REPO_ROOT / "chat-api",
        log_path=tmp_path / "chat-api.log",
        ready_url=f"http://127.0.0.1:{port}/api/v1/health",
    )
    with process.start():
        base = f"http://127.0.0.1:{port}/api/v1"
        assert httpx.get(f"{base}/health/ready", timeout=30).status_code == 200
        reply = httpx.post(
            f"{base}/chat", json={"message": "hello"}, headers=fresh_user.headers, timeout=30
        )
        assert reply.status_code == 200, reply.text
    assert sys.prefix != str(runtime_venv)
