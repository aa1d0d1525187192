"""One offline rendering of every environment and service, shared by the tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from copilot_checks import render
from repository_facts import domains


@pytest.fixture(scope="session")
def workspace() -> render.Workspace:
    return render.Workspace.read()


@pytest.fixture(scope="session")
def rendered(tmp_path_factory, workspace) -> Path:
    """build dir with <env>/ for every environment, rendered by the real Copilot CLI."""
    build = tmp_path_factory.mktemp("copilot-build")
    render.render(build, domains=domains())
    return build
