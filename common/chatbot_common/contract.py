"""The names shared by the CDK platform, the Copilot manifests, the local stack and the
services: tables, queues, SSM parameters, exports and secrets, read from `contract.json`
beside this module (the one source; readers outside Python read the JSON file directly)."""

from __future__ import annotations

import json
from pathlib import Path

CONTRACT_PATH = Path(__file__).with_name("contract.json")
_CONTRACT = json.loads(CONTRACT_PATH.read_text())

COPILOT_APP: str = _CONTRACT["copilot_app"]
ENVIRONMENTS: tuple[str, ...] = tuple(_CONTRACT["environments"])
# The prefix of the local stack's resources (one machine, one set of names).
LOCAL_PREFIX = "chatbot-local"


def contract() -> dict:
    """The whole contract as plain data (a copy: callers may change it)."""
    return json.loads(CONTRACT_PATH.read_text())


def _resolve(table: str, key: str, env: str) -> str:
    if env not in ENVIRONMENTS:
        raise ValueError(f"unknown environment {env!r}; expected one of {', '.join(ENVIRONMENTS)}")
    return _CONTRACT[table][key].format(env=env)


def resource_prefix(env: str) -> str:
    """`chatbot-<env>`: the start of every named resource of environment `env`."""
    if env not in ENVIRONMENTS:
        raise ValueError(f"unknown environment {env!r}; expected one of {', '.join(ENVIRONMENTS)}")
    return _CONTRACT["resource_prefix"].format(env=env)


def resource_name(key: str, prefix: str) -> str:
    """The name of table or queue `key` (CONVERSATIONS_TABLE, FEEDBACK_QUEUE, ...) under
    `prefix` (`resource_prefix(env)` in AWS, LOCAL_PREFIX or a test's own locally)."""
    return _CONTRACT["resources"][key].format(prefix=prefix)


def resource_keys() -> tuple[str, ...]:
    return tuple(_CONTRACT["resources"])


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
