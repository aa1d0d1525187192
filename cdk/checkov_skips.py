"""checkov skips written where they apply: into the template Metadata of each resource of the
listed type (`checkov: {skip: [{id, comment}]}`), with the reason from checkov_skips.json."""

from __future__ import annotations

import json
from pathlib import Path

import aws_cdk as cdk
import jsii
from constructs import IConstruct

SKIPS_PATH = Path(__file__).with_name("checkov_skips.json")


def load() -> dict[str, dict[str, str]]:
    """check id -> {"resource_type", "reason"}"""
    return json.loads(SKIPS_PATH.read_text())["skips"]


@jsii.implements(cdk.IAspect)
class CheckovSkips:
    def __init__(self, skips: dict[str, dict[str, str]] | None = None) -> None:
        self._skips = load() if skips is None else skips

    def visit(self, node: IConstruct) -> None:
        if not isinstance(node, cdk.CfnResource):
            return
        entries = [
            {"id": check, "comment": skip["reason"]}
            for check, skip in sorted(self._skips.items())
            if skip["resource_type"] == node.cfn_resource_type
        ]
        if entries:
            node.add_metadata("checkov", {"skip": entries})
