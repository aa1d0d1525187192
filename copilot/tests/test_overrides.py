"""Copilot's YAML-patch overrides (copilot/environments/overrides/, copilot/<svc>/overrides/),
as the real Copilot CLI applies them when it renders: no Lambda function on a runtime AWS has
deprecated, and the public load balancer drops invalid header fields."""

from __future__ import annotations

import datetime
import shutil
from pathlib import Path

import pytest
import yaml
from copilot_checks import render
from repository_facts import COPILOT_DIR, domains

RUNTIMES = COPILOT_DIR / "lambda-runtimes.yml"
FUNCTION_TYPES = ("AWS::Lambda::Function", "AWS::Serverless::Function")
DROP_INVALID_HEADERS = "routing.http.drop_invalid_header_fields.enabled"


def runtime_lifecycle() -> dict[str, dict[str, datetime.date | None]]:
    return yaml.safe_load(RUNTIMES.read_text())["runtimes"]


def functions(build: Path) -> dict[str, str]:
    """'<env>/<template>#<logical id>' -> runtime, for every function of every template."""
    found = {}
    for path in sorted(build.glob("*/*.yml")):
        template = render.load_template(path)
        for logical_id, resource in (template.get("Resources") or {}).items():
            if resource.get("Type") in FUNCTION_TYPES:
                runtime = resource.get("Properties", {}).get("Runtime")
                found[f"{path.parent.name}/{path.name}#{logical_id}"] = runtime
    return found


def outdated_runtimes(build: Path, today: datetime.date) -> dict[str, str]:
    """The functions whose runtime is deprecated on `today`, or missing from the list."""
    lifecycle = runtime_lifecycle()
    outdated = {}
    for function, runtime in functions(build).items():
        dates = lifecycle.get(runtime)
        if dates is None:
            outdated[function] = f"{runtime} (not in {RUNTIMES.name})"
        elif dates["deprecated"] is not None and dates["deprecated"] <= today:
            outdated[function] = f"{runtime} (deprecated {dates['deprecated']})"
    return outdated


def test_the_runtime_list_is_dated_and_knows_copilots_own_runtime():
    document = yaml.safe_load(RUNTIMES.read_text())
    assert isinstance(document["checked"], datetime.date)
    assert document["runtimes"]["nodejs20.x"] == {
        "deprecated": datetime.date(2026, 4, 30),
        "block_create": datetime.date(2027, 2, 1),
        "block_update": datetime.date(2027, 3, 3),
    }
    for name, dates in document["runtimes"].items():
        assert set(dates) == {"deprecated", "block_create", "block_update"}, name


def test_no_rendered_template_names_a_deprecated_runtime(rendered, workspace):
    found = functions(rendered)
    # Copilot's custom resources: one function per environment, three per service.
    per_env = 1 + 3 * len(workspace.services)
    assert len(found) == per_env * len(workspace.environments)
    assert outdated_runtimes(rendered, datetime.date.today()) == {}


def test_without_the_overrides_copilot_renders_deprecated_runtimes(tmp_path, monkeypatch):
    """What the overrides are for, and proof that the check above can fail."""
    copy = tmp_path / "copilot"
    shutil.copytree(COPILOT_DIR, copy, ignore=shutil.ignore_patterns("build", "overrides"))
    monkeypatch.setattr(render, "COPILOT_DIR", copy)
    monkeypatch.setattr(render, "REPO_ROOT", tmp_path)
    build = tmp_path / "build"
    render.render(build, environments=["dev"], domains=domains())
    outdated = outdated_runtimes(build, datetime.date.today())
    assert len(outdated) == len(functions(build)) == 7
    assert set(outdated.values()) == {"nodejs20.x (deprecated 2026-04-30)"}


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_the_load_balancers_drop_invalid_header_fields(rendered, env):
    resources = render.load_template(rendered / env / f"{env}.env.yml")["Resources"]
    public = resources["PublicLoadBalancer"]["Properties"]["LoadBalancerAttributes"]
    attributes = {a["Key"]: a["Value"] for a in public}
    assert attributes[DROP_INVALID_HEADERS] == "true"
    # The patch appends: Copilot's own attributes (the access logs) stay.
    assert attributes["access_logs.s3.enabled"] is True
    internal = resources["InternalLoadBalancer"]["Properties"]["LoadBalancerAttributes"]
    assert {a["Key"]: a["Value"] for a in internal} == {DROP_INVALID_HEADERS: "true"}
