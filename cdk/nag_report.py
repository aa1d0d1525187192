"""Turn a synthesised cloud assembly into the report security reviewers read.

    python nag_report.py [cdk.out]   ->  cdk.out/nag-report.md and cdk.out/nag-report.html

Per stack: the resources, the AwsSolutions findings still open (from validation-report.json),
and every acknowledgment with its reason (from the stack's metadata). The stacks of the CDK app
come first, then, when `copilot_review.py` has run, one section per Copilot template
(`<outdir>/copilot-review`), then the open NIST 800-53 rev 5 findings per rule (reported, not
gating; `<outdir>/nist` and `<outdir>/copilot-review-nist`). The rules checked are listed once,
read from the installed cdk-nag's AwsSolutions pack.
"""

from __future__ import annotations

import html
import json
import re
import sys
import tarfile
from collections import Counter
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path

CHECKOV_SKIPS = Path(__file__).with_name("checkov_skips.json")
GATE_PLUGIN = "AwsSolutions"
REPORT_PLUGIN = "NIST.800.53.R5"
COPILOT_REVIEW = "copilot-review"
NIST_OUTDIRS = {"CDK app": "nist", "Copilot templates": "copilot-review-nist"}
ACK_METADATA = "aws:cdk:acknowledged-rules"
LOGICAL_ID_METADATA = "aws:cdk:logicalId"
_KNOWN_PREFIXES = re.compile(r"^(AwsSolutions::|Annotation::)")
_RULE = re.compile(
    r"ruleSuffixOverride: '(?P<id>[A-Za-z0-9]+)',\s*"
    r"info: (?P<quote>['\"])(?P<info>(?:(?!(?P=quote))[^\\]|\\.)*)(?P=quote),"
    r".*?level: nag_rules_1\.NagMessageLevel\.(?P<level>[A-Z]+)",
    re.DOTALL,
)


@dataclass(frozen=True)
class Rule:
    rule_id: str
    level: str
    info: str


@dataclass(frozen=True)
class Acknowledgment:
    rule: str
    resource: str
    logical_id: str
    reason: str


@dataclass(frozen=True)
class Finding:
    plugin: str
    rule: str
    severity: str
    resource: str
    description: str


@dataclass
class StackReport:
    artifact: str
    stack_name: str
    resource_types: Counter
    findings: list[Finding]
    acknowledgments: list[Acknowledgment]

    def resources(self) -> str:
        """How many resources, and of which types: "12 (AWS::IAM::Role x3, ...)"."""
        types = ", ".join(f"{t} x{n}" for t, n in sorted(self.resource_types.items()))
        return f"{sum(self.resource_types.values())} ({types})"


@dataclass(frozen=True)
class Report:
    """What one report shows, rendered as Markdown and as HTML: the CDK stacks, the rules they
    were checked against, Copilot's reviewed templates and the NIST counts (when reviewed)."""

    stacks: list[StackReport]
    version: str
    rules: list[Rule]
    copilot_stacks: list[StackReport] | None = None
    nist: dict[str, Counter] | None = None

    def summary(self) -> str:
        """The opening sentence of both renderings (plain text)."""
        errors = sum(1 for s in self.stacks for f in s.findings if f.severity == "error")
        return (
            f"AwsSolutions checks of cdk-nag {self.version} ({len(self.rules)} rules) on every "
            f"stack. Open findings: {sum(len(s.findings) for s in self.stacks)} ({errors} "
            f"errors); acknowledgments: {sum(len(s.acknowledgments) for s in self.stacks)}."
        )


def aws_solutions_rules() -> tuple[str, list[Rule]]:
    """The AwsSolutions pack's rules as the installed cdk-nag defines them."""
    # Located without importing cdk_nag, which would start a Node process for nothing.
    package = Path(find_spec("cdk_nag").origin).parent / "_jsii"
    bundle = next(p for p in package.iterdir() if p.name.endswith(".jsii.tgz"))
    version = bundle.name.removesuffix(".jsii.tgz").split("@")[-1]
    with tarfile.open(str(bundle)) as archive:
        source = archive.extractfile("package/lib/packs/aws-solutions.js").read().decode()
    rules = [
        Rule(f"AwsSolutions-{m['id']}", m["level"].lower(), re.sub(r"\\(.)", r"\1", m["info"]))
        for m in _RULE.finditer(source)
    ]
    return version, rules


def _stack_artifacts(outdir: Path) -> list[tuple[str, dict]]:
    manifest = json.loads((outdir / "manifest.json").read_text())
    return [
        (name, artifact)
        for name, artifact in manifest["artifacts"].items()
        if artifact["type"] == "aws:cloudformation:stack"
    ]


def _stack_metadata(outdir: Path, artifact: dict) -> dict[str, list[dict]]:
    metadata = dict(artifact.get("metadata", {}))
    extra = artifact.get("additionalMetadataFile")
    if extra:
        metadata.update(json.loads((outdir / extra).read_text()))
    return metadata


def _logical_ids(metadata: dict[str, list[dict]]) -> dict[str, str]:
    ids = {}
    for path, entries in metadata.items():
        for entry in entries:
            if entry["type"] == LOGICAL_ID_METADATA:
                ids[path] = entry["data"]
    return ids


def _logical_id_under(path: str, ids: dict[str, str]) -> str:
    if path in ids:
        return ids[path]
    children = sorted(p for p in ids if p.startswith(path + "/"))
    return ", ".join(ids[p] for p in children[:3]) + (" ..." if len(children) > 3 else "")


def collect(outdir: Path) -> list[StackReport]:
    validation_path = outdir / "validation-report.json"
    validation = json.loads(validation_path.read_text()) if validation_path.exists() else {}
    reports = []
    for name, artifact in _stack_artifacts(outdir):
        template = json.loads((outdir / artifact["properties"]["templateFile"]).read_text())
        metadata = _stack_metadata(outdir, artifact)
        ids = _logical_ids(metadata)
        acknowledgments = [
            Acknowledgment(
                rule=_KNOWN_PREFIXES.sub("", rule),
                resource=path.lstrip("/"),
                logical_id=_logical_id_under(path, ids),
                reason=reason,
            )
            for path, entries in sorted(metadata.items())
            for entry in entries
            if entry["type"] == ACK_METADATA
            for rule, reason in sorted(entry["data"].items())
        ]
        findings = [
            Finding(
                plugin=plugin["pluginName"],
                rule=violation["ruleName"],
                severity=violation["severity"],
                resource=construct["constructPath"],
                description=violation["description"],
            )
            for plugin in validation.get("pluginReports", [])
            if plugin["pluginName"] == GATE_PLUGIN
            for violation in plugin.get("violations", [])
            for construct in violation.get("violatingConstructs", [])
            if construct["constructPath"].split("/")[0] == name
        ]
        reports.append(
            StackReport(
                artifact=name,
                stack_name=artifact["properties"].get("stackName", name),
                resource_types=Counter(r["Type"] for r in template.get("Resources", {}).values()),
                findings=findings,
                acknowledgments=acknowledgments,
            )
        )
    return reports


def open_findings_per_rule(outdir: Path, plugin: str = REPORT_PLUGIN) -> Counter[str]:
    """Open findings of `plugin` per rule in a synthesised assembly (empty when absent)."""
    path = outdir / "validation-report.json"
    if not path.exists():
        return Counter()
    return Counter(
        violation["ruleName"].removeprefix(plugin + "-")
        for found in json.loads(path.read_text()).get("pluginReports", [])
        if found["pluginName"] == plugin
        for violation in found.get("violations", [])
        for _ in violation.get("violatingConstructs", [])
    )


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def checkov_skips() -> dict[str, tuple[str, str]]:
    """check id -> (resource type, reason)"""
    if not CHECKOV_SKIPS.exists():
        return {}
    skips = json.loads(CHECKOV_SKIPS.read_text())["skips"]
    return {check: (s["resource_type"], s["reason"]) for check, s in skips.items()}


def _md_table(headers: list[str], rows: list[list[str]]) -> list[str]:
    """A Markdown table of cells already escaped, or "None." without rows."""
    if not rows:
        return ["None."]
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def _stack_sections_md(stacks: list[StackReport]) -> list[str]:
    lines: list[str] = []
    for stack in stacks:
        lines += [
            f"## {stack.stack_name}",
            "",
            f"Resources: {stack.resources()}.",
            "",
            "### Open findings",
            "",
        ]
        lines += _md_table(
            ["severity", "rule", "resource", "description"],
            [
                [f.severity, _md(f.rule), f"`{f.resource}`", _md(f.description)]
                for f in stack.findings
            ],
        )
        lines += ["", "### Acknowledgments", ""]
        lines += _md_table(
            ["rule", "resource (logical id)", "reason"],
            [
                [_md(a.rule), f"`{a.resource}` ({a.logical_id})", _md(a.reason)]
                for a in stack.acknowledgments
            ],
        )
        lines.append("")
    return lines


def _nist_md(nist: dict[str, Counter]) -> list[str]:
    rules = sorted(set().union(*nist.values()))
    lines = [
        "## NIST 800-53 rev 5 (reported, not gating)",
        "",
        "cdk-nag's NIST 800-53 rev 5 pack on the same stacks, in a separate synthesis: its "
        "findings are counted here for a reviewer, never acknowledged, and fail nothing. "
        + "; ".join(f"{name}: {sum(c.values())} open in {len(c)} rules" for name, c in nist.items())
        + ".",
        "",
        "| rule | " + " | ".join(nist) + " |",
        "|---|" + "---|" * len(nist),
    ]
    lines += [
        f"| {rule} | " + " | ".join(str(c.get(rule, 0)) for c in nist.values()) + " |"
        for rule in rules
    ]
    return lines + [""]


def render_markdown(report: Report) -> str:
    copilot_stacks, nist, rules = report.copilot_stacks, report.nist, report.rules
    lines = ["# cdk-nag report", "", report.summary(), ""]
    lines += _stack_sections_md(report.stacks)
    if copilot_stacks:
        lines += [
            "## Copilot's rendered templates",
            "",
            "`copilot_review.py` loads every template `make copilot-package` renders into a "
            "review-only CDK app (`cloudformation_include.CfnInclude`) and runs the same "
            "AwsSolutions pack as a gate; acknowledgments are in "
            "`cdk/copilot_review_acknowledgments.json`. "
            f"Open findings: {sum(len(s.findings) for s in copilot_stacks)}; "
            f"acknowledgments: {sum(len(s.acknowledgments) for s in copilot_stacks)}.",
            "",
        ]
        lines += _stack_sections_md(copilot_stacks)
    if nist:
        lines += _nist_md(nist)
    lines += [
        "## checkov skips",
        "",
        "checkov runs on every template in `make test-cdk`; these checks are skipped on the "
        "resources of one type each, in the resources' Metadata (cdk/checkov_skips.json):",
        "",
        "| check | resource type | reason |",
        "|---|---|---|",
    ]
    lines += [
        f"| {check} | {type_} | {_md(reason)} |"
        for check, (type_, reason) in sorted(checkov_skips().items())
    ]
    lines += ["", "## Rules checked", "", "| rule | level | what it flags |", "|---|---|---|"]
    lines += [f"| {r.rule_id} | {r.level} | {_md(r.info)} |" for r in rules]
    return "\n".join(lines) + "\n"


def _table(headers: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _table_or_none(headers: list[str], rows: list[list[str]]) -> str:
    return _table(headers, rows) if rows else "<p class='none'>None.</p>"


def _stack_sections_html(stacks: list[StackReport]) -> list[str]:
    parts: list[str] = []
    for stack in stacks:
        parts.append(f"<h2>{html.escape(stack.stack_name)}</h2>")
        parts.append(f"<p>Resources: {html.escape(stack.resources())}</p><h3>Open findings</h3>")
        parts.append(
            _table_or_none(
                ["severity", "rule", "resource", "description"],
                [[f.severity, f.rule, f.resource, f.description] for f in stack.findings],
            )
        )
        parts.append("<h3>Acknowledgments</h3>")
        parts.append(
            _table_or_none(
                ["rule", "resource", "logical id", "reason"],
                [[a.rule, a.resource, a.logical_id, a.reason] for a in stack.acknowledgments],
            )
        )
    return parts


def render_html(report: Report) -> str:
    copilot_stacks, nist, rules = report.copilot_stacks, report.nist, report.rules
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        "<title>cdk-nag report</title><style>",
        "body{font-family:system-ui,sans-serif;margin:2rem;max-width:80rem}",
        "table{border-collapse:collapse;width:100%;margin-bottom:1rem}",
        "th,td{border:1px solid #ccc;padding:.3rem .5rem;text-align:left;vertical-align:top;"
        "overflow-wrap:anywhere}",
        "th{background:#f2f2f2}.none{color:#555}",
        "</style></head><body><h1>cdk-nag report</h1>",
        f"<p>{html.escape(report.summary())}</p>",
    ]
    parts += _stack_sections_html(report.stacks)
    if copilot_stacks:
        parts.append("<h2>Copilot's rendered templates</h2>")
        parts.append(
            "<p>The templates <code>make copilot-package</code> renders, loaded into a "
            "review-only CDK app (<code>cloudformation_include.CfnInclude</code>) with the same "
            "AwsSolutions gate; acknowledgments in "
            "<code>cdk/copilot_review_acknowledgments.json</code>. Open findings: "
            f"{sum(len(s.findings) for s in copilot_stacks)}; acknowledgments: "
            f"{sum(len(s.acknowledgments) for s in copilot_stacks)}.</p>"
        )
        parts += _stack_sections_html(copilot_stacks)
    if nist:
        parts.append("<h2>NIST 800-53 rev 5 (reported, not gating)</h2>")
        parts.append(
            "<p>"
            + html.escape(
                "; ".join(
                    f"{name}: {sum(c.values())} open in {len(c)} rules" for name, c in nist.items()
                )
            )
            + "</p>"
        )
        parts.append(
            _table(
                ["rule", *nist],
                [
                    [rule, *(str(c.get(rule, 0)) for c in nist.values())]
                    for rule in sorted(set().union(*nist.values()))
                ],
            )
        )
    parts.append("<h2>checkov skips</h2>")
    parts.append(
        _table(
            ["check", "resource type", "reason"],
            [[check, type_, reason] for check, (type_, reason) in sorted(checkov_skips().items())],
        )
    )
    parts.append("<h2>Rules checked</h2>")
    parts.append(
        _table(["rule", "level", "what it flags"], [[r.rule_id, r.level, r.info] for r in rules])
    )
    parts.append("</body></html>\n")
    return "\n".join(parts)


def main(argv: list[str]) -> int:
    outdir = Path(argv[1] if len(argv) > 1 else Path(__file__).with_name("cdk.out"))
    if not (outdir / "manifest.json").exists():
        print(
            f"nag-report: {outdir} holds no cloud assembly; run `make synth` first", file=sys.stderr
        )
        return 2
    version, rules = aws_solutions_rules()
    if not rules:
        print("nag-report: found no AwsSolutions rules in the installed cdk-nag", file=sys.stderr)
        return 2
    stacks = collect(outdir)
    review = outdir / COPILOT_REVIEW
    copilot_stacks = collect(review) if (review / "manifest.json").exists() else []
    nist = {
        name: open_findings_per_rule(outdir / folder)
        for name, folder in NIST_OUTDIRS.items()
        if (outdir / folder / "manifest.json").exists()
    }
    report = Report(stacks, version, rules, copilot_stacks, nist)
    (outdir / "nag-report.md").write_text(render_markdown(report))
    (outdir / "nag-report.html").write_text(render_html(report))
    print(f"wrote {outdir / 'nag-report.md'} and {outdir / 'nag-report.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
