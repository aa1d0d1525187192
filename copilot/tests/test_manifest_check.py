"""The manifest check that `make copilot-package`, `make deploy-plan` and `make deploy` run
before Copilot: every key must be one the schemas know, or the run stops naming it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from copilot_checks import __main__ as copilot_package
from copilot_checks import manifests, render
from repository_facts import COPILOT_DIR


def copy_of_the_manifests(tmp_path: Path) -> Path:
    copy = tmp_path / "copilot"
    shutil.copytree(COPILOT_DIR, copy, ignore=shutil.ignore_patterns("build", "__pycache__"))
    return copy


def test_the_repositorys_manifests_pass():
    assert manifests.check(COPILOT_DIR) == []
    assert len(manifests.manifests(COPILOT_DIR)) == 5


def test_copilot_package_stops_before_copilot_on_a_misspelt_key(tmp_path, monkeypatch, capsys):
    """`make copilot-package`'s entry point with `healthchek:` appended to the chat API's
    manifest: it exits non-zero naming the file and the key, and renders nothing."""
    copy = copy_of_the_manifests(tmp_path)
    manifest = copy / "chat-api" / "manifest.yml"
    manifest.write_text(manifest.read_text() + "healthchek:\n  path: /api/v1/health\n")
    monkeypatch.setattr(render, "COPILOT_DIR", copy)
    build = tmp_path / "build"
    assert copilot_package.main(["--build-dir", str(build)]) == 1
    error = capsys.readouterr().err
    assert "copilot/chat-api/manifest.yml: unknown key 'healthchek' at the top level" in error
    assert "did you mean healthcheck? it belongs under http" in error
    assert not build.exists()


@pytest.mark.parametrize(
    ("path", "replace", "expected"),
    [
        (
            "chat-api/manifest.yml",
            ("  healthcheck:\n", "  healthchek:\n"),
            "unknown key 'healthchek' at http; Copilot would ignore it (did you mean healthcheck?)",
        ),
        (
            "environments/prod/manifest.yml",
            ("container_insights:", "container_insight:"),
            "unknown key 'container_insight' at observability",
        ),
        (
            "web-ui/manifest.yml",
            ("stickiness:", "stickyness:"),
            "(did you mean stickiness?)",
        ),
    ],
)
def test_each_misspelt_key_is_named_with_its_place_and_the_closest_key(
    tmp_path, path, replace, expected
):
    copy = copy_of_the_manifests(tmp_path)
    manifest = copy / path
    assert replace[0] in manifest.read_text()
    manifest.write_text(manifest.read_text().replace(*replace, 1))
    problems = [str(p) for p in manifests.check(copy)]
    assert problems, "the misspelt key was accepted"
    assert all(p.startswith(f"copilot/{path}: ") for p in problems)
    assert any(expected in p for p in problems), problems


def test_a_wrong_value_type_is_reported_too(tmp_path):
    copy = copy_of_the_manifests(tmp_path)
    manifest = copy / "environments" / "prod" / "manifest.yml"
    manifest.write_text(
        manifest.read_text().replace("container_insights: true", "container_insights: 3")
    )
    (problem,) = manifests.check(copy)
    assert str(problem).startswith("copilot/environments/prod/manifest.yml: ")
    assert "observability.container_insights" in str(problem)


def test_a_manifest_that_is_not_yaml_is_reported(tmp_path):
    copy = copy_of_the_manifests(tmp_path)
    (copy / "web-ui" / "manifest.yml").write_text("name: web-ui\n  type: [\n")
    (problem,) = manifests.check(copy)
    assert "copilot/web-ui/manifest.yml: not valid YAML" in str(problem)
