"""`make copilot-package`: check every manifest against the schemas, then render every
environment and service into copilot/build/."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from copilot_checks import manifests, render


def cdk_domains() -> dict[str, str]:
    """Each environment's domain name, from the CDK app's configuration."""
    environments = json.loads((render.REPO_ROOT / "cdk" / "cdk.json").read_text())["context"]
    return {name: env["domain_name"] for name, env in environments["chatbot:environments"].items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--env", action="append", help="environment (default: all)")
    parser.add_argument("--build-dir", type=Path, default=render.DEFAULT_BUILD_DIR)
    args = parser.parse_args(argv)
    # Copilot ignores unknown keys: the schemas are checked before it reads anything.
    problems = manifests.check(render.COPILOT_DIR)
    if problems:
        print(manifests.report(problems), file=sys.stderr)
        return 1
    try:
        result = render.render(args.build_dir, environments=args.env, domains=cdk_domains())
    except render.RenderError as error:
        print(error, file=sys.stderr)
        return 1
    for env, files in result.files.items():
        for path in files:
            print(f"{env}: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
