"""cdk-nag 3 as a validation plugin, and the one way this app acknowledges a finding.

An acknowledgment always names one rule (optionally one finding of a granular rule, such as
`Resource::*` of IAM5) on one construct, with the reason a reviewer reads in the nag report.
"""

from __future__ import annotations

import aws_cdk as cdk
import cdk_nag
from constructs import IConstruct

PACK = "AwsSolutions"
# Reported next to the gate (make nag-report), never gating.
REPORT_PACK = "NIST.800.53.R5"


def add_gate(app: cdk.App) -> None:
    """Run AwsSolutionsChecks on the whole app at synth; an unacknowledged finding fails it."""
    cdk.Validations.of(app).add_plugins(cdk_nag.AwsSolutionsChecks(app, verbose=True))


def add_report_pack(app: cdk.App) -> None:
    """Also run NIST 800-53 rev 5: its open findings make the synth fail, so only a separate
    synthesis for the report adds it (copilot_review.py --nist)."""
    cdk.Validations.of(app).add_plugins(cdk_nag.NIST80053R5Checks(app))


def acknowledge(scope: IConstruct, rule: str, reason: str, *, finding: str | None = None) -> None:
    """Acknowledge `AwsSolutions-<rule>` (or one `finding` of it) on the resource `scope`."""
    if isinstance(scope, cdk.Stage | cdk.Stack):
        raise ValueError("acknowledge a rule on the resource it is about, not on a stack or app")
    if len(reason) < 40:
        raise ValueError(f"the reason for {rule} on {scope.node.path} is too short to review")
    rule_id = f"{PACK}-{rule}" + (f"[{finding}]" if finding else "")
    # On the CloudFormation resource itself, so that the acknowledgment covers no sibling
    # (a queue's policy, a user pool's clients) that the L2 construct also holds.
    target = scope.node.default_child or scope
    cdk.Validations.of(target).acknowledge(cdk.Acknowledgment(id=rule_id, reason=reason))
