"""The real Copilot CLI renders every environment and service; the linters accept the output
with only the listed skips; the manifests contain no key Copilot would silently ignore."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import jsonschema
import pytest
import yaml
from copilot_checks import render
from repository_facts import COPILOT_DIR, domains, manifest

BIN = Path(sys.executable).parent
SKIPS = yaml.safe_load((COPILOT_DIR / "lint-skips.yml").read_text())
ADDONS = sorted(COPILOT_DIR.glob("*/addons/*.yml"))
SCHEMAS = COPILOT_DIR / "schemas"


def generated_templates(build: Path) -> list[Path]:
    return sorted(p for p in build.glob("*/*.yml") if ".addons." not in p.name)


def test_every_environment_and_service_is_rendered(rendered, workspace):
    assert workspace.environments == ["dev", "prod", "staging"]
    assert workspace.services == ["chat-api", "web-ui"]
    for env in workspace.environments:
        names = {p.name for p in (rendered / env).iterdir()}
        expected = {f"{env}.env.yml", f"{env}.env.params.json"}
        for service in workspace.services:
            expected |= {
                f"{service}-{env}.stack.yml",
                f"{service}-{env}.params.json",
                f"{service}.addons.stack.yml",
            }
        assert expected <= names


def test_rendering_reports_a_manifest_error(tmp_path, monkeypatch):
    """A value Copilot checks (here a range with min > max) fails the rendering, with
    Copilot's own message."""
    copy = tmp_path / "copilot"
    subprocess.run(
        ["cp", "-r", str(COPILOT_DIR), str(copy)], check=True
    )  # the workspace must sit in a folder named copilot
    broken = copy / "chat-api" / "manifest.yml"
    broken.write_text(broken.read_text().replace("min: 1\n    max: 2", "min: 3\n    max: 2"))
    monkeypatch.setattr(render, "COPILOT_DIR", copy)
    monkeypatch.setattr(render, "REPO_ROOT", tmp_path)
    with pytest.raises(render.RenderError, match="range"):
        render.render(tmp_path / "build", environments=["dev"], domains=domains())


def cfn_lint(paths: list[Path]) -> list[dict]:
    completed = subprocess.run(
        [str(BIN / "cfn-lint"), "--format", "json", *map(str, paths)],
        capture_output=True,
        text=True,
    )
    assert completed.returncode in (0, 2, 4, 6, 8, 10, 12, 14), completed.stderr
    return json.loads(completed.stdout or "[]")


def test_addons_pass_cfn_lint_without_any_skip(rendered):
    rendered_addons = sorted(rendered.glob("*/*.addons.stack.yml"))
    assert rendered_addons
    findings = cfn_lint(ADDONS + rendered_addons)
    assert findings == []


def test_generated_templates_pass_cfn_lint_with_listed_skips_only(rendered):
    findings = cfn_lint(generated_templates(rendered))
    rules = Counter(finding["Rule"]["Id"] for finding in findings)
    unlisted = {rule: count for rule, count in rules.items() if rule not in SKIPS["cfn-lint"]}
    assert unlisted == {}, [f for f in findings if f["Rule"]["Id"] in unlisted][:5]
    unused = set(SKIPS["cfn-lint"]) - set(rules)
    assert not unused, f"skips that match nothing any more: remove {sorted(unused)}"


def checkov(directory: Path) -> list[dict]:
    completed = subprocess.run(
        [
            str(BIN / "checkov"),
            "-d",
            str(directory),
            "--framework",
            "cloudformation",
            "--skip-download",
            "--quiet",
            "--compact",
            "-o",
            "json",
        ],
        capture_output=True,
        text=True,
    )
    assert completed.returncode in (0, 1), completed.stderr[-2000:]
    reports = json.loads(completed.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    return [f for r in reports for f in r.get("results", {}).get("failed_checks", [])]


def test_checkov_accepts_the_addons_without_any_skip(tmp_path):
    for addon in ADDONS:
        (tmp_path / f"{addon.parent.parent.name}-{addon.name}").write_text(addon.read_text())
    assert checkov(tmp_path) == []


def test_checkov_accepts_generated_templates_with_listed_skips_only(rendered):
    failed = checkov(rendered)
    by_check = Counter(f["check_id"] for f in failed)
    in_addons = [f for f in failed if ".addons." in f["file_path"]]
    assert in_addons == []
    unlisted = {c: n for c, n in by_check.items() if c not in SKIPS["checkov"]}
    assert unlisted == {}, [(f["check_id"], f["resource"]) for f in failed][:10]
    unused = set(SKIPS["checkov"]) - set(by_check)
    assert not unused, f"skips that match nothing any more: remove {sorted(unused)}"


def schema(name: str) -> dict:
    return json.loads((SCHEMAS / f"{name}.schema.json").read_text())


@pytest.mark.parametrize("service", ["chat-api", "web-ui"])
def test_service_manifests_match_the_schema(service):
    jsonschema.validate(manifest(f"{service}/manifest.yml"), schema("load-balanced-web-service"))


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_environment_manifests_match_the_schema(env):
    jsonschema.validate(manifest(f"environments/{env}/manifest.yml"), schema("environment"))


@pytest.mark.parametrize(
    ("path", "typo"),
    [
        ("chat-api/manifest.yml", ("healthcheck:", "healthchek:")),
        ("chat-api/manifest.yml", ("placement:", "placment:")),
        ("web-ui/manifest.yml", ("stickiness:", "stickyness:")),
        ("environments/prod/manifest.yml", ("container_insights:", "container_insight:")),
    ],
)
def test_schema_rejects_a_key_copilot_would_ignore(path, typo):
    text = (COPILOT_DIR / path).read_text()
    assert typo[0] in text
    document = yaml.safe_load(text.replace(typo[0], typo[1], 1))
    name = "environment" if path.startswith("environments/") else "load-balanced-web-service"
    with pytest.raises(jsonschema.ValidationError, match=typo[1].rstrip(":")):
        jsonschema.validate(document, schema(name))


def test_copilot_itself_renders_a_misspelt_key_silently(tmp_path, monkeypatch):
    """Why the schema exists: Copilot drops an unknown key without a word, so a typo in the
    health check would ship the default check ('/')."""
    copy = tmp_path / "copilot"
    subprocess.run(["cp", "-r", str(COPILOT_DIR), str(copy)], check=True)
    typo = copy / "chat-api" / "manifest.yml"
    typo.write_text(
        typo.read_text().replace("  healthcheck:\n    # The", "  healthchek:\n    # The")
    )
    monkeypatch.setattr(render, "COPILOT_DIR", copy)
    monkeypatch.setattr(render, "REPO_ROOT", tmp_path)
    render.render(tmp_path / "build", environments=["dev"], domains=domains())
    template = render.load_template(tmp_path / "build" / "dev" / "chat-api-dev.stack.yml")
    assert template["Resources"]["TargetGroup"]["Properties"]["HealthCheckPath"] == "/"
    with pytest.raises(jsonschema.ValidationError, match="healthchek"):
        jsonschema.validate(yaml.safe_load(typo.read_text()), schema("load-balanced-web-service"))


def test_rendering_refuses_an_alias_the_certificate_does_not_cover(tmp_path):
    """Copilot checks the aliases against the environment's imported certificate (here one for
    another domain), as `copilot svc deploy` would."""
    with pytest.raises(render.RenderError, match="is not a valid domain against"):
        render.render(tmp_path / "build", environments=["dev"], domains={"dev": "example.com"})
