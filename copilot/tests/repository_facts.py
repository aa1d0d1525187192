"""Facts of the repository the tests compare the manifests with."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import yaml
from copilot_checks import render

COPILOT_DIR = render.COPILOT_DIR
REPO_ROOT = render.REPO_ROOT
CDK_DIR = REPO_ROOT / "cdk"
CONTRACT_PATH = CDK_DIR / "platform_outputs.json"
CDK_JSON = CDK_DIR / "cdk.json"


def cdk_environments() -> dict:
    return json.loads(CDK_JSON.read_text())["context"]["chatbot:environments"]


def contract() -> dict:
    return json.loads(CONTRACT_PATH.read_text())


def domains() -> dict[str, str]:
    return {name: env["domain_name"] for name, env in cdk_environments().items()}


def manifest(path: str) -> dict:
    return yaml.safe_load((COPILOT_DIR / path).read_text())


@dataclass(frozen=True)
class DockerStage:
    """What a Dockerfile target declares about how its container runs."""

    expose: int | None
    cmd: list[str] | None
    healthcheck: list[str] | None


def dockerfile_stages() -> dict[str, DockerStage]:
    text = (REPO_ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    stages = {}
    for match in re.finditer(r"^FROM \S+ AS (\S+)$(.*?)(?=^FROM |\Z)", text, re.M | re.S):
        body = match[2]
        expose = re.search(r"^EXPOSE (\d+)", body, re.M)
        cmd = re.search(r"^CMD (\[.*\])$", body, re.M)
        check = re.search(r"^HEALTHCHECK .*? CMD (\[.*\])$", body, re.M)
        stages[match[1]] = DockerStage(
            expose=int(expose[1]) if expose else None,
            cmd=json.loads(cmd[1]) if cmd else None,
            healthcheck=["CMD", *json.loads(check[1])] if check else None,
        )
    return stages
