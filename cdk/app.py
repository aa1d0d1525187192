"""The chatbot's CDK app for one environment.

    CHATBOT_ENV=dev python app.py        # or: cdk synth -c env=dev

Plain `python app.py` reads cdk.json's context itself and writes to cdk.out/; under the CDK CLI
the CLI passes the context. cdk-nag's AwsSolutions checks run on the whole app: an
unacknowledged finding makes the synth exit non-zero.
"""

from __future__ import annotations

import os
import shutil
import sys

from application import CHALICE_OUTDIR, DEFAULT_OUTDIR, HERE, build_app, under_cli
from chatbot_common.environments import SettingsError


def main() -> int:
    os.chdir(HERE)  # chalice.cdk writes chalice.out/ into the working folder
    # A fresh folder: a stale template or validation report must not outlive its stack.
    if not under_cli():  # the CLI owns (and locks) its output folder
        shutil.rmtree(DEFAULT_OUTDIR, ignore_errors=True)
    # chalice.cdk packages into ./chalice.out/<random id>/ on every synth.
    shutil.rmtree(CHALICE_OUTDIR, ignore_errors=True)
    try:
        app = build_app()
        app.synth()
    except SettingsError as error:
        print(f"cdk: configuration error: {error}", file=sys.stderr)
        return 2
    except RuntimeError as error:  # jsii surfaces ValidationFailed as a RuntimeError
        if "ValidationFailed" not in str(error):
            raise
        print(f"cdk: the cdk-nag gate failed: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
