"""One-shot bootstrap of the docker-compose stack (docker-compose.yml).

    python scripts/compose_bootstrap.py OUTPUT_FILE

Creates the local AWS resources in the `local-aws` container exactly as `make run` does, then
writes the configuration as KEY=VALUE lines for the other containers, which source the file
before they start. The endpoints are the containers' names on the compose network; the chat
API's URL is the one a browser on the host uses.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from chatbot_common.env_file import write_env_file
from local_stack.aws_bootstrap import bootstrap

DEFAULTS = {
    "LOCAL_AWS_URL": "http://local-aws:4566",
    "LOCAL_BEDROCK_URL": "http://local-bedrock:4567",
    "PUBLIC_CHAT_API_URL": "http://localhost:8080",
}
ATTEMPTS = 30


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: compose_bootstrap.py OUTPUT_FILE", file=sys.stderr)
        return 2
    settings = {key: os.environ.get(key, default) for key, default in DEFAULTS.items()}
    for attempt in range(1, ATTEMPTS + 1):
        try:
            config = bootstrap(
                settings["LOCAL_AWS_URL"],
                chat_api_url=settings["PUBLIC_CHAT_API_URL"],
                bedrock_url=settings["LOCAL_BEDROCK_URL"],
            )
            break
        except Exception as error:  # the endpoint may still be starting: retry, then give up
            if attempt == ATTEMPTS:
                print(f"compose bootstrap: {type(error).__name__}: {error}", file=sys.stderr)
                return 1
            time.sleep(1)
    # The compose stack has no stand-in for the managed login (make run starts one): without
    # its URL the web app offers the password sign-in only.
    config.pop("COGNITO_DOMAIN_URL", None)
    write_env_file(Path(argv[0]), config)
    print(f"compose bootstrap: wrote {len(config)} settings to {argv[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
