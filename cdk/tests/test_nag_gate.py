"""The cdk-nag gate: zero open AwsSolutions findings in every environment, a new unacknowledged
finding fails the synth, and every acknowledgment is specific and explained."""

import json

import aws_cdk as cdk
import pytest
from aws_cdk import aws_sqs as sqs

import application as cdk_app
import nag
import nag_report


def _aws_solutions_violations(synthesised):
    return [
        violation
        for plugin in synthesised.validation_report()["pluginReports"]
        if plugin["pluginName"] == "AwsSolutions"
        for violation in plugin["violations"]
    ]


def test_no_open_findings_in_any_environment(synthesised):
    for env, synth in synthesised.items():
        assert _aws_solutions_violations(synth) == [], env
        report = synth.validation_report()
        errors = [
            v["ruleName"]
            for p in report["pluginReports"]
            for v in p["violations"]
            if v["severity"] == "error"
        ]
        assert errors == [], env


def test_an_unacknowledged_finding_fails_the_synth(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # chalice.cdk packages into ./chalice.out
    app = cdk_app.build_app("dev", outdir=tmp_path / "cdk.out")
    tmp_path = tmp_path / "cdk.out"
    sqs.Queue(app.node.find_child("PlatformStateless"), "QueueWithoutDlqOrTls")
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()
    report = json.loads((tmp_path / "validation-report.json").read_text())
    (plugin,) = [p for p in report["pluginReports"] if p["pluginName"] == "AwsSolutions"]
    rules = {v["ruleName"] for v in plugin["violations"]}
    assert rules == {"AwsSolutions-SQS3", "AwsSolutions-SQS4"}
    # The report shows the open findings of a failed synth.
    assert nag_report.main(["nag_report.py", str(tmp_path)]) == 0
    markdown = (tmp_path / "nag-report.md").read_text()
    assert (
        "| error | AwsSolutions-SQS4 | `PlatformStateless/QueueWithoutDlqOrTls/Resource` |"
        in markdown
    )


def test_acknowledgments_are_never_blanket():
    stack = cdk.Stack()
    with pytest.raises(ValueError, match="not on a stack"):
        nag.acknowledge(stack, "SQS3", "a long enough reason that still must be refused here")
    with pytest.raises(ValueError, match="too short"):
        nag.acknowledge(sqs.Queue(stack, "Q"), "SQS3", "dlq")


def test_every_acknowledgment_names_one_rule_with_a_reason(synthesised):
    for synth in synthesised.values():
        for stack in nag_report.collect(synth.outdir):
            for ack in stack.acknowledgments:
                assert ack.rule.startswith("AwsSolutions-"), ack
                assert "*" not in ack.rule or ack.rule.startswith("AwsSolutions-IAM5["), ack
                assert len(ack.reason) >= 40, ack
                # On one CloudFormation resource, not a construct holding several.
                assert ack.logical_id and "," not in ack.logical_id, ack


def test_report_lists_stacks_rules_and_acknowledgments(prod, tmp_path):
    assert nag_report.main(["nag_report.py", str(prod.outdir)]) == 0
    markdown = (prod.outdir / "nag-report.md").read_text()
    html = (prod.outdir / "nag-report.html").read_text()
    for stack in ("chatbot-prod-platform-stateful", "chatbot-prod-platform", "chatbot-prod-edge"):
        assert f"## {stack}" in markdown
        assert f"<h2>{stack}</h2>" in html
    assert "| AwsSolutions-SQS3 | `PlatformStateful/Feedback/DeadLetterQueue/Resource`" in markdown
    assert "AwsSolutions-COG3" not in markdown.split("## Rules checked")[0]  # enforced in prod
    version, rules = nag_report.aws_solutions_rules()
    assert len(rules) > 100
    assert f"| {rules[0].rule_id} | {rules[0].level} |" in markdown


def test_report_refuses_a_folder_without_an_assembly(tmp_path, capsys):
    assert nag_report.main(["nag_report.py", str(tmp_path)]) == 2
    assert "no cloud assembly" in capsys.readouterr().err
