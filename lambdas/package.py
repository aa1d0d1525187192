"""`chalice package` for one stage, with the stage's settings taken from the environment.

    python package.py --stage prod OUT_DIR

Writes OUT_DIR/sam.json (CloudFormation with the SAM transform) and OUT_DIR/deployment.zip.
The stage's values in .chalice/config.json are the defaults; any of SETTING_NAMES set in the
environment replaces them. The merged values are validated like the functions validate them
at run time, so a bad block list stops the packaging instead of every sign-up. The feedback
queue is FEEDBACK_QUEUE_NAME (default `chatbot-<stage>-feedback`). Needs AWS_DEFAULT_REGION
(any region: nothing is called), no credentials. The SQS event source is given partial batch
responses (`ReportBatchItemFailures`), which Chalice itself does not write.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent
MERGE_TEMPLATE = PROJECT_DIR / ".chalice" / "sqs-partial-batch-response.json"
# The functions' environment variables that a deployment may set (docs/lambdas.md).
SETTING_NAMES = (
    "APP_ENV",
    "LOG_LEVEL",
    "PROFILES_TABLE",
    "DEFAULT_GROUP",
    "DEFAULT_TIER",
    "AUTO_CONFIRM_USERS",
    "SIGNUP_BLOCKED_DOMAINS",
    "SIGNUP_ALLOWED_DOMAINS",
    "FEEDBACK_TABLE",
    "FEEDBACK_DLQ_NAME",
    "FEEDBACK_DLQ_URL",
)


def package(stage: str, out_dir: Path, environ=os.environ) -> Path:
    """Package the app; returns the template's path. Raises SystemExit with one line."""
    if not environ.get("AWS_DEFAULT_REGION"):
        raise SystemExit("AWS_DEFAULT_REGION must be set (any region; nothing is called)")
    # Read by app.py when Chalice imports it to find the functions.
    os.environ.setdefault("FEEDBACK_QUEUE_NAME", f"chatbot-{stage}-feedback")
    sys.path.insert(0, str(PROJECT_DIR))
    from chalice.cli.factory import CLIFactory

    from chalicelib.settings import (
        ConfigurationError,
        FeedbackSettings,
        ProfileSettings,
        SignUpSettings,
    )

    overrides = {name: environ[name] for name in SETTING_NAMES if name in environ}
    factory = CLIFactory(str(PROJECT_DIR), environ=dict(environ))
    config = factory.create_config_obj(
        stage, user_provided_params={"environment_variables": overrides}
    )
    if stage not in factory.load_project_config().get("stages", {}):
        raise SystemExit(f"stage {stage!r} is not in .chalice/config.json")
    variables = config.environment_variables
    try:
        for settings in (SignUpSettings, ProfileSettings, FeedbackSettings):
            settings.from_env(variables)
    except ConfigurationError as error:
        raise SystemExit(f"stage {stage}: {error}") from None
    packager = factory.create_app_packager(
        config,
        factory.create_package_options(),
        package_format="cloudformation",
        template_format="json",
        merge_template=str(MERGE_TEMPLATE),
    )
    packager.package_app(config, str(out_dir), stage)
    return out_dir / "sam.json"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stage", default="dev")
    parser.add_argument("out_dir", type=Path)
    args = parser.parse_args(argv)
    template = package(args.stage, args.out_dir.resolve())
    print(f"wrote {template} and {template.with_name('deployment.zip')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
