"""One synthesised app per environment, shared by every test of the session (a synth takes
seconds). Tests read the stacks with `assertions.Template.from_stack`."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import assertions

import application as cdk_app
from chatbot_common import contract


@dataclass
class Synthesised:
    env: str
    app: cdk.App
    outdir: Path

    def stack(self, construct_id: str) -> cdk.Stack:
        return self.app.node.find_child(construct_id)  # type: ignore[return-value]

    def template(self, construct_id: str) -> assertions.Template:
        return assertions.Template.from_stack(self.stack(construct_id))

    def template_json(self, construct_id: str) -> dict:
        return json.loads((self.outdir / f"{construct_id}.template.json").read_text())

    def validation_report(self) -> dict:
        path = self.outdir / "validation-report.json"
        return json.loads(path.read_text()) if path.exists() else {"pluginReports": []}


@pytest.fixture(scope="session")
def synthesised(tmp_path_factory) -> dict[str, Synthesised]:
    """dev, staging and prod, each synthesised with the cdk-nag gate (a failure raises here)."""
    result = {}
    cwd = Path.cwd()
    os.chdir(tmp_path_factory.mktemp("chalice"))  # chalice.cdk packages into ./chalice.out
    try:
        for env in contract.ENVIRONMENTS:
            outdir = tmp_path_factory.mktemp(f"cdk-{env}")
            app = cdk_app.build_app(env, outdir=outdir)
            app.synth()
            result[env] = Synthesised(env=env, app=app, outdir=outdir)
    finally:
        os.chdir(cwd)
    return result


@pytest.fixture(scope="session")
def dev(synthesised) -> Synthesised:
    return synthesised["dev"]


@pytest.fixture(scope="session")
def prod(synthesised) -> Synthesised:
    return synthesised["prod"]


@pytest.fixture(scope="session")
def staging(synthesised) -> Synthesised:
    return synthesised["staging"]


def resources_of(template: assertions.Template, type_: str) -> dict[str, dict]:
    return template.find_resources(type_)


def only(template: assertions.Template, type_: str) -> dict:
    found = template.find_resources(type_)
    assert len(found) == 1, f"expected one {type_}, found {len(found)}"
    return next(iter(found.values()))
