"""docker-compose.yml: valid for Docker Compose, and the same stack as `make run` (ports,
configuration names, health checks, image targets). No Docker engine here: the file is checked
with Debian's docker-compose (`config`), and its bootstrap runs against a real moto server."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys

import pytest
import yaml
from repository_facts import REPO_ROOT, dockerfile_stages

from local_stack.__main__ import PORT_VARIABLES
from local_stack.aws_bootstrap import PUBLISHED_NAMES
from local_stack.processes import free_port, moto_process

COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
DOCKERFILE = REPO_ROOT / "Dockerfile"


def docker_compose(*args: str, path=COMPOSE_FILE) -> subprocess.CompletedProcess:
    binary = shutil.which("docker-compose")
    assert binary, "docker-compose is missing: run 'sudo apt-get install docker-compose'"
    return subprocess.run(
        [binary, "-f", str(path), "--project-directory", str(REPO_ROOT), *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture(scope="module")
def compose() -> dict:
    """The file as Docker Compose resolves it."""
    completed = docker_compose("config")
    assert completed.returncode == 0, completed.stderr
    return yaml.safe_load(completed.stdout)


def test_docker_compose_rejects_a_misspelt_key(tmp_path):
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(COMPOSE_FILE.read_text().replace("healthcheck:", "helthcheck:", 1))
    completed = docker_compose("config", "-q", path=broken)
    assert completed.returncode != 0
    assert "helthcheck" in completed.stderr


def host_port(service: dict) -> tuple[str, int, int]:
    """docker-compose 1.29 resolves a port to 'HOST_IP:PUBLISHED:TARGET/tcp'."""
    (port,) = service["ports"]
    host_ip, published, target = port.removesuffix("/tcp").split(":")
    return host_ip, int(published), int(target)


def test_ports_are_those_of_make_run_on_loopback(compose):
    services = compose["services"]
    expected = {
        "local-aws": PORT_VARIABLES["LOCAL_AWS_PORT"],
        "local-bedrock": PORT_VARIABLES["LOCAL_BEDROCK_PORT"],
        "chat-api": PORT_VARIABLES["CHAT_API_PORT"],
        "web-ui": dockerfile_stages()["web-ui"].expose,
    }
    for name, port in expected.items():
        assert host_port(services[name]) == ("127.0.0.1", port, port), name


def test_images_come_from_the_dockerfile_targets_and_run_as_built(compose):
    stages = dockerfile_stages()
    built = {
        name: service["build"]["target"]
        for name, service in compose["services"].items()
        if "build" in service
    }
    assert built == {
        "local-bedrock": "chat-api",
        "bootstrap": "chat-api",
        "chat-api": "chat-api",
        "web-ui": "web-ui",
    }
    for name in ("chat-api", "web-ui"):
        service, stage = compose["services"][name], stages[name]
        # The entrypoint only loads the configuration; the command is the image's own.
        assert service["command"] == stage.cmd, name
        assert service["entrypoint"][-2].endswith('exec "$$@"'), name
        assert service["healthcheck"]["test"] == stage.healthcheck, name


def test_moto_image_is_the_pinned_moto():
    pinned = re.search(r"^moto==(\S+)$", (REPO_ROOT / "requirements-dev.txt").read_text(), re.M)
    compose_file = yaml.safe_load(COMPOSE_FILE.read_text())
    assert compose_file["services"]["local-aws"]["image"] == f"motoserver/moto:{pinned[1]}"


def healthcheck_url(service: dict) -> str:
    return re.search(r"urlopen\('([^']+)'", " ".join(service["healthcheck"]["test"]))[1]


def test_health_checks_match_the_servers_and_the_manifests(compose):
    services = compose["services"]
    assert healthcheck_url(services["local-aws"]) == "http://127.0.0.1:4566/moto-api/"
    assert healthcheck_url(services["local-bedrock"]) == "http://127.0.0.1:4567/_local/health"
    for name in ("chat-api", "web-ui"):
        manifest = yaml.safe_load((REPO_ROOT / f"copilot/{name}/manifest.yml").read_text())
        port = dockerfile_stages()[name].expose
        url = f"http://127.0.0.1:{port}{manifest['http']['healthcheck']['path']}"
        assert healthcheck_url(services[name]) == url
        assert services[name]["healthcheck"]["test"] == manifest["image"]["healthcheck"]["command"]


def test_start_order(compose):
    services = compose["services"]
    assert services["bootstrap"]["depends_on"]["local-aws"]["condition"] == "service_healthy"
    for name in ("chat-api", "feedback-ingestion"):
        condition = services[name]["depends_on"]["bootstrap"]["condition"]
        assert condition == "service_completed_successfully"
    assert services["web-ui"]["depends_on"]["chat-api"]["condition"] == "service_healthy"


def test_bootstrap_writes_the_configuration_contract(tmp_path):
    """The compose bootstrap, run against a real moto server: every name the chat API requires
    and every published name, endpoints on the compose network."""
    port = free_port()
    output = tmp_path / "stack" / "stack.env"
    with moto_process(port, log_path=tmp_path / "moto.log"):
        completed = subprocess.run(
            [sys.executable, str(REPO_ROOT / "scripts" / "compose_bootstrap.py"), str(output)],
            env={
                "PATH": "/usr/bin:/bin",
                "PYTHONPATH": str(REPO_ROOT / "scripts"),
                "LOCAL_AWS_URL": f"http://127.0.0.1:{port}",
                "LOCAL_BEDROCK_URL": "http://local-bedrock:4567",
                "PUBLIC_CHAT_API_URL": "http://localhost:8080",
            },
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert completed.returncode == 0, completed.stderr
    values = dict(line.split("=", 1) for line in output.read_text().splitlines())
    config = (REPO_ROOT / "chat-api" / "chat_api" / "config.py").read_text()
    required = set(re.findall(r'"([A-Z_]+)"', re.search(r"REQUIRED = \(([^)]*)\)", config)[1]))
    assert required | set(PUBLISHED_NAMES) <= set(values)
    assert values["APP_ENV"] == "local"
    assert values["AWS_ENDPOINT_URL_BEDROCK_RUNTIME"] == "http://local-bedrock:4567"
    assert values["CHAT_API_URL"] == "http://localhost:8080"
    assert oct(output.stat().st_mode & 0o777) == "0o644"


def test_bootstrap_gives_up_with_one_line_when_aws_never_answers(tmp_path, monkeypatch):
    import compose_bootstrap

    monkeypatch.setattr(compose_bootstrap, "ATTEMPTS", 1)
    monkeypatch.setenv("LOCAL_AWS_URL", f"http://127.0.0.1:{free_port()}")
    assert compose_bootstrap.main([str(tmp_path / "stack.env")]) == 1
    assert not (tmp_path / "stack.env").exists()
