"""Prints an access token of the running local stack's user (the demo user by default).

    make token                       # the demo user's access token
    make token EMAIL=a@b.c PASSWORD=...

Reads the configuration that `make run` wrote to <state dir>/stack.env.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from chatbot_common.env_file import read_env_file
from local_stack.aws_bootstrap import DEMO_USER_EMAIL, DEMO_USER_PASSWORD, sign_in
from local_stack.processes import REPO_ROOT


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--email", default=DEMO_USER_EMAIL)
    parser.add_argument("--password", default=DEMO_USER_PASSWORD)
    args = parser.parse_args(argv)
    env_file = Path(os.environ.get("LOCAL_STACK_DIR") or REPO_ROOT / ".local") / "stack.env"
    if not env_file.exists():
        print(f"{env_file} not found: start the local stack with `make run` first", file=sys.stderr)
        return 1
    config = read_env_file(env_file)
    tokens = sign_in(
        config["AWS_ENDPOINT_URL"],
        config["AWS_REGION"],
        config["COGNITO_APP_CLIENT_ID"],
        args.email,
        args.password,
    )
    print(tokens["AccessToken"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
