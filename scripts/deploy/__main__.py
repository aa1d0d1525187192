"""The deploy's command line (scripts/ on the path, as `make` sets it):

python -m deploy plan dev       # every step `deploy` runs, in order; no AWS call
python -m deploy plan prod --without-copilot   # the CloudFormation-only plan
python -m deploy deploy dev     # CDK platform, Copilot environment, services, CDK edge,
                                # then the smoke test (staging and prod: then the web
                                # app's Amplify build)
python -m deploy templates prod # the rendered templates with the account's values
python -m deploy rollback dev [--plan]
python -m deploy smoke dev [--url URL --user-pool-id ID --client-id ID]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from deploy.plan import check_manifests, deploy_plan, print_plan
from deploy.rollback import rollback_plan
from deploy.runner import run_plan
from deploy.smoke import smoke_from_environment
from deploy.steps import COPILOT_DIR, REPO_ROOT, DeployError
from deploy.without_copilot import without_copilot_plan, write_templates


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m deploy", description="Deploy, plan, roll back or smoke test ENV."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("plan", "deploy"):
        command = sub.add_parser(name)
        command.add_argument("env")
        command.add_argument(
            "--copilot-dir", type=Path, default=COPILOT_DIR, help="the manifests to check first"
        )
    sub.choices["plan"].add_argument(
        "--without-copilot", action="store_true", help="the CloudFormation-only plan"
    )
    templates = sub.add_parser("templates", help="the rendered templates with the account's values")
    templates.add_argument("env")
    rollback = sub.add_parser("rollback")
    rollback.add_argument("env")
    rollback.add_argument("--plan", action="store_true", help="print the commands only")
    smoke = sub.add_parser("smoke")
    smoke.add_argument("env")
    smoke.add_argument("--url", help="default: https://api.<domain>")
    smoke.add_argument("--user-pool-id", help="default: the environment's SSM parameter")
    smoke.add_argument("--client-id", help="default: the environment's SSM parameter")
    smoke.add_argument("--region", help="default: the environment's region")
    return parser


def _command(args: argparse.Namespace) -> int:
    if args.command in ("plan", "deploy"):
        check_manifests(args.copilot_dir)
        without = getattr(args, "without_copilot", False)
        steps = without_copilot_plan(args.env) if without else deploy_plan(args.env)
        if args.command == "plan":
            print_plan(steps, args.env)
            return 0
        return run_plan(steps, args.env)
    if args.command == "templates":
        for path in write_templates(args.env):
            print(path.relative_to(REPO_ROOT))
        return 0
    if args.command == "rollback":
        steps = rollback_plan(args.env)
        if args.plan:
            print_plan(steps, args.env)
            return 0
        return run_plan(steps, args.env)
    for line in smoke_from_environment(args.env, args):
        print(f"smoke: {line}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return _command(args)
    except DeployError as error:
        print(f"{args.command}: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
