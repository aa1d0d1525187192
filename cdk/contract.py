"""The names shared with the containers and the Copilot manifests, read from
`platform_outputs.json`. No CDK import: tests of other components can use this module (or read
the JSON file directly)."""

from __future__ import annotations

import json
from pathlib import Path

CONTRACT_PATH = Path(__file__).with_name("platform_outputs.json")
_CONTRACT = json.loads(CONTRACT_PATH.read_text())

COPILOT_APP: str = _CONTRACT["copilot_app"]
ENVIRONMENTS: tuple[str, ...] = tuple(_CONTRACT["environments"])


def _resolve(table: str, key: str, env: str) -> str:
    if env not in ENVIRONMENTS:
        raise ValueError(f"unknown environment {env!r}; expected one of {', '.join(ENVIRONMENTS)}")
    return _CONTRACT[table][key].format(env=env)


def ssm_parameter_name(key: str, env: str) -> str:
    """The SSM parameter holding the contract variable `key` in environment `env`."""
    return _resolve("ssm_parameters", key, env)


def export_name(key: str, env: str) -> str:
    """The CloudFormation export holding `key` in environment `env`."""
    return _resolve("exports", key, env)


def secret_name(key: str, env: str) -> str:
    return _resolve("secrets", key, env)


def copilot_export_name(output: str, env: str) -> str:
    """An export of the Copilot environment stack `<app>-<env>` that the edge stack imports."""
    return _resolve("copilot_environment_exports", output, env)


def ssm_parameter_keys() -> tuple[str, ...]:
    return tuple(_CONTRACT["ssm_parameters"])


def export_keys() -> tuple[str, ...]:
    return tuple(_CONTRACT["exports"])


def secret_keys() -> tuple[str, ...]:
    return tuple(_CONTRACT["secrets"])
