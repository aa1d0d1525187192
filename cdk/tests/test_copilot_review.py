"""The review-only app over Copilot's rendered templates (copilot_review.py): the AwsSolutions
gate with its acknowledgments, NIST 800-53 rev 5 counted, and the nag report's sections. The
templates come from the real Copilot CLI (the copilot venv's offline renderer)."""

from __future__ import annotations

import copy
import os
import subprocess
from pathlib import Path

import pytest

import copilot_review
import nag_report

REPO = Path(__file__).resolve().parents[2]
COPILOT_PY = REPO / ".venvs" / "copilot" / "bin" / "python"
ENVIRONMENTS = ["dev", "staging", "prod"]
KINDS = {"environment", "chat-api", "chat-api.addons", "web-ui", "web-ui.addons"}


@pytest.fixture(scope="session")
def copilot_build(tmp_path_factory) -> Path:
    """Every environment rendered by Copilot into a fresh folder (`make copilot-package`)."""
    build = tmp_path_factory.mktemp("copilot-build")
    subprocess.run(
        [str(COPILOT_PY), "-m", "copilot_checks", "--build-dir", str(build)],
        cwd=REPO / "copilot",
        # The renderer runs its moto proxy with the local stack's process helpers (scripts/).
        env={**os.environ, "PYTHONPATH": str(REPO / "scripts")},
        check=True,
        capture_output=True,
    )
    return build


@pytest.fixture(scope="session")
def reviewed(copilot_build, tmp_path_factory) -> tuple[bool, Path]:
    outdir = tmp_path_factory.mktemp("copilot-review")
    app = copilot_review.build_review_app(copilot_build, ENVIRONMENTS, outdir=outdir)
    return copilot_review.synthesise(app), outdir


def test_every_rendered_template_is_a_stack_of_the_review(copilot_build, reviewed):
    _, outdir = reviewed
    stacks = {s.artifact for s in nag_report.collect(outdir)}
    assert stacks == {copilot_review.stack_name(env, k) for env in ENVIRONMENTS for k in KINDS}
    for env in ENVIRONMENTS:
        kinds = {copilot_review.template_kind(p, env) for p in (copilot_build / env).glob("*.yml")}
        assert kinds == KINDS


def test_copilot_templates_pass_the_gate_with_the_listed_acknowledgments(reviewed):
    passed, outdir = reviewed
    assert copilot_review.open_findings(outdir, "AwsSolutions") == []
    assert passed
    acknowledged = [a for s in nag_report.collect(outdir) for a in s.acknowledgments]
    assert len(acknowledged) > 100  # three environments, five templates each
    assert all(len(a.reason) >= 40 for a in acknowledged)


def test_an_unacknowledged_finding_fails_the_review(copilot_build, tmp_path):
    """Acknowledgments are per rule and resource: dropping one reopens exactly that finding."""
    acknowledgments = copy.deepcopy(copilot_review.load_acknowledgments())
    del acknowledgments["web-ui"]["TaskDefinition"]["ECS2"]
    app = copilot_review.build_review_app(
        copilot_build, ["prod"], outdir=tmp_path, acknowledgments=acknowledgments
    )
    assert copilot_review.synthesise(app) is False
    assert copilot_review.open_findings(tmp_path, "AwsSolutions") == [
        ("AwsSolutions-ECS2", "copilot-prod-web-ui/Template/TaskDefinition")
    ]


def test_an_acknowledgment_of_a_resource_copilot_no_longer_renders_is_refused(
    copilot_build, tmp_path
):
    acknowledgments = copy.deepcopy(copilot_review.load_acknowledgments())
    acknowledgments["environment"]["RemovedResource"] = {"L1": "x" * 50}
    with pytest.raises(copilot_review.ReviewError, match="environment has no resource Removed"):
        copilot_review.build_review_app(
            copilot_build, ["prod"], outdir=tmp_path, acknowledgments=acknowledgments
        )


@pytest.fixture(scope="session")
def nist_counts(copilot_build, tmp_path_factory):
    outdir = tmp_path_factory.mktemp("copilot-review-nist")
    counts = copilot_review.nist_findings(
        lambda out: copilot_review.build_review_app(
            copilot_build, ["prod"], outdir=out, pack=copilot_review.NIST_PACK
        ),
        outdir,
    )
    return counts, outdir


def test_nist_findings_are_counted_per_rule_without_failing(nist_counts):
    counts, outdir = nist_counts
    # Copilot's custom resource functions have no DLQ: a finding NIST reports and nobody gates.
    assert counts["NIST.800.53.R5-LambdaDLQ"] > 0
    assert all(rule.startswith("NIST.800.53.R5-") for rule in counts)
    assert nag_report.open_findings_per_rule(outdir) == {
        rule.removeprefix("NIST.800.53.R5-"): n for rule, n in counts.items()
    }


def test_the_report_has_a_section_per_copilot_stack_and_the_nist_counts(reviewed, nist_counts, dev):
    _, review = reviewed
    counts, nist_outdir = nist_counts
    version, rules = nag_report.aws_solutions_rules()
    copilot_stacks = nag_report.collect(review)
    nist = {"Copilot templates": nag_report.open_findings_per_rule(nist_outdir)}
    report = nag_report.Report(nag_report.collect(dev.outdir), version, rules, copilot_stacks, nist)
    markdown = nag_report.render_markdown(report)
    for env in ENVIRONMENTS:
        for kind in KINDS:
            assert f"\n## {copilot_review.stack_name(env, kind)}\n" in markdown
    assert "## NIST 800-53 rev 5 (reported, not gating)" in markdown
    assert f"| LambdaDLQ | {counts['NIST.800.53.R5-LambdaDLQ']} |" in markdown
    page = nag_report.render_html(report)
    assert "<h2>copilot-prod-web-ui-addons</h2>" in page and "LambdaDLQ" in page
