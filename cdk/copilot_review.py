"""Review-only CDK app: cdk-nag on the templates Copilot renders (`make copilot-package`).

Most of what runs in the VPC (the network, the load balancer, the ECS services, their roles and
security groups) comes from Copilot's templates, which the chatbot's CDK app never sees. This
app loads each rendered template of `copilot/build/<env>/` into a stack of its own with
`cloudformation_include.CfnInclude` and runs the same AwsSolutions pack, as a gate: a finding
is fixed in the manifests, the addons or Copilot overrides, or acknowledged (one rule on one
resource, with the reason) in `copilot_review_acknowledgments.json`. NIST 800-53 rev 5 runs as a
second pack whose open findings are only counted (`nist_findings`). Nothing here is deployed.

    python copilot_review.py [--env prod] [--build ../copilot/build] [--nist]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

import aws_cdk as cdk
import cdk_nag
from aws_cdk import cloudformation_include as cfn_include

import application
import nag

HERE = Path(__file__).resolve().parent
DEFAULT_BUILD = HERE.parent / "copilot" / "build"
ACKNOWLEDGMENTS = HERE / "copilot_review_acknowledgments.json"
NIST_PACK = nag.REPORT_PACK


class ReviewError(ValueError):
    """The build is missing, or an acknowledgment names a resource that is not there."""


def template_kind(path: Path, env: str) -> str:
    """`environment`, `<service>` or `<service>.addons` for a file Copilot rendered."""
    name = path.name
    if name == f"{env}.env.yml":
        return "environment"
    if name.endswith(".addons.stack.yml"):
        return name.removesuffix(".addons.stack.yml") + ".addons"
    if name.endswith(f"-{env}.stack.yml"):
        return name.removesuffix(f"-{env}.stack.yml")
    raise ReviewError(f"{path}: not a template Copilot renders")


def stack_name(env: str, kind: str) -> str:
    return f"copilot-{env}-{kind.replace('.', '-')}"


def load_acknowledgments(path: Path = ACKNOWLEDGMENTS) -> dict[str, dict[str, dict[str, str]]]:
    return json.loads(path.read_text())["templates"]


def build_review_app(
    build: Path,
    environments: list[str],
    *,
    outdir: Path,
    pack: str = nag.PACK,
    acknowledgments: dict[str, dict[str, dict[str, str]]] | None = None,
) -> cdk.App:
    """One stack per rendered template, with `pack`'s checks added; not yet synthesised."""
    acknowledgments = load_acknowledgments() if acknowledgments is None else acknowledgments
    app = cdk.App(outdir=str(outdir), analytics_reporting=False)
    for env in environments:
        templates = sorted((build / env).glob("*.yml"))
        if not templates:
            raise ReviewError(f"{build / env} holds no template: run `make copilot-package`")
        for path in templates:
            kind = template_kind(path, env)
            stack = cdk.Stack(
                app,
                stack_name(env, kind),
                description=f"Copilot's {kind} template of {env} (review only, never deployed)",
            )
            included = cfn_include.CfnInclude(stack, "Template", template_file=str(path))
            for logical_id, rules in acknowledgments.get(kind, {}).items():
                try:
                    resource = included.get_resource(logical_id)
                except RuntimeError:
                    raise ReviewError(
                        f"{ACKNOWLEDGMENTS.name}: {kind} has no resource {logical_id} in {env}"
                    ) from None
                for rule, reason in rules.items():
                    rule_id, _, finding = rule.partition("[")
                    nag.acknowledge(resource, rule_id, reason, finding=finding[:-1] or None)
    checks = (
        cdk_nag.AwsSolutionsChecks(app, verbose=True)
        if pack == nag.PACK
        else cdk_nag.NIST80053R5Checks(app)
    )
    cdk.Validations.of(app).add_plugins(checks)
    return app


def synthesise(app: cdk.App) -> bool:
    """True when the app's checks found nothing open (an open error fails the synth)."""
    try:
        app.synth()
    except RuntimeError as error:  # jsii surfaces ValidationFailed as a RuntimeError
        if "ValidationFailed" not in str(error):
            raise
        return False
    return True


def open_findings(outdir: Path, plugin: str) -> list[tuple[str, str]]:
    """(rule, construct path) of every open finding of `plugin` in a synthesised review app."""
    path = outdir / "validation-report.json"
    report = json.loads(path.read_text()) if path.exists() else {"pluginReports": []}
    return [
        (violation["ruleName"], construct["constructPath"])
        for found in report["pluginReports"]
        if found["pluginName"] == plugin
        for violation in found["violations"]
        for construct in violation["violatingConstructs"]
    ]


def nist_findings(app_factory, outdir: Path) -> Counter[str]:
    """Open NIST 800-53 rev 5 findings per rule: reported, never gating."""
    synthesise(app_factory(outdir))
    return Counter(rule for rule, _ in open_findings(outdir, NIST_PACK))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", action="append", help="environment (default: every rendered)")
    parser.add_argument("--build", type=Path, default=DEFAULT_BUILD)
    parser.add_argument("--outdir", type=Path, default=HERE / "cdk.out" / "copilot-review")
    parser.add_argument(
        "--cdk-env",
        help="with --nist: also count NIST findings of the CDK app of this environment",
    )
    parser.add_argument(
        "--nist",
        action="store_true",
        help="run NIST 800-53 rev 5 instead (into <outdir>-nist); reports, never fails",
    )
    args = parser.parse_args(argv[1:])
    environments = args.env or sorted(p.name for p in args.build.iterdir() if p.is_dir())
    try:
        if args.nist:
            outdir = args.outdir.with_name(args.outdir.name + "-nist")
            counts = nist_findings(
                lambda out: build_review_app(args.build, environments, outdir=out, pack=NIST_PACK),
                outdir,
            )
            print(
                f"copilot-review: {', '.join(environments)}: NIST 800-53 rev 5 (reported, not "
                f"gating): {sum(counts.values())} open findings in {len(counts)} rules"
            )
            if args.cdk_env:
                counts = nist_findings(
                    lambda out: application.build_app(args.cdk_env, outdir=out, report_pack=True),
                    args.outdir.with_name("nist"),
                )
                print(
                    f"cdk {args.cdk_env}: NIST 800-53 rev 5 (reported, not gating): "
                    f"{sum(counts.values())} open findings in {len(counts)} rules"
                )
            return 0
        passed = synthesise(build_review_app(args.build, environments, outdir=args.outdir))
    except (ReviewError, FileNotFoundError) as error:
        print(f"copilot-review: {error}", file=sys.stderr)
        return 2
    findings = open_findings(args.outdir, nag.PACK)
    for rule, path in findings:
        print(f"copilot-review: open finding {rule} on {path}", file=sys.stderr)
    print(
        f"copilot-review: {', '.join(environments)}: {len(findings)} open AwsSolutions findings "
        "in Copilot's templates"
    )
    return 0 if passed and not findings else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
