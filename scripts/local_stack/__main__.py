"""`make run`: start the whole local stack on 127.0.0.1 and stop it on Ctrl-C.

Order: local AWS endpoint (moto) -> its resources -> local managed login (authorization
server) -> local Bedrock-compatible model server -> chat API -> feedback ingestion -> web app.
The configuration goes to `<state dir>/stack.env`, each server's output to
`<state dir>/logs/<name>.log`. The state dir is $LOCAL_STACK_DIR, by default `<repo>/.local`.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from pathlib import Path

from chatbot_common import env_file
from local_stack.aws_bootstrap import DEMO_USER_EMAIL, DEMO_USER_PASSWORD, bootstrap
from local_stack.processes import (
    REPO_ROOT,
    ManagedProcess,
    ProcessStartError,
    auth_server_process,
    bedrock_process,
    chat_api_process,
    feedback_runner_process,
    local_url,
    moto_process,
    port_is_free,
    reflex_process,
)

PORT_VARIABLES = {
    "LOCAL_AWS_PORT": 4566,
    "LOCAL_BEDROCK_PORT": 4567,
    "CHAT_API_PORT": 8080,
    "WEB_APP_PORT": 3000,
    "LOCAL_AUTH_PORT": 4568,
}
START_TIMEOUT = 60
# The web app builds its frontend when it starts (bun install the first time).
WEB_APP_START_TIMEOUT = 300
WATCH_INTERVAL = 0.5


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class StopRequested(BaseException):
    """Raised in the main thread by a stop signal; a BaseException, like KeyboardInterrupt,
    so that no library's `except Exception` swallows it."""


def say(message: str, stream=None) -> None:
    # A closed terminal (SIGHUP) must not turn the shutdown into a traceback.
    with contextlib.suppress(OSError):
        print(message, file=stream or sys.stdout, flush=True)


def fail(message: str) -> int:
    say(message, sys.stderr)
    return 1


def read_ports(environ) -> dict[str, int] | str:
    """The ports by variable name, or one line saying what is wrong."""
    ports = {}
    for variable, default in PORT_VARIABLES.items():
        raw = environ.get(variable) or str(default)
        if not raw.isdigit() or not 0 < int(raw) < 65536:
            return f"{variable}={raw} is not a TCP port number (1-65535)."
        ports[variable] = int(raw)
    if len(set(ports.values())) < len(ports):
        return f"Two services would share a port: {ports}. Give each its own."
    for variable, port in ports.items():
        if not port_is_free(port):
            return (
                f"Port {port} on 127.0.0.1 is busy: stop what uses it or set another port, "
                f"e.g. {variable}={port + 10} make run"
            )
    return ports


def state_dir(environ) -> Path:
    return Path(environ.get("LOCAL_STACK_DIR") or REPO_ROOT / ".local").resolve()


def write_env_file(path: Path, config: dict[str, str]) -> None:
    env_file.write_env_file(
        path,
        config,
        header=(
            "Configuration of the running local stack (written by `make run`).",
            f"Load it into a shell with: set -a; . {path}; set +a",
        ),
    )


def _request_stop(signum, frame):
    # Further signals must not interrupt the orderly shutdown that this one starts.
    for sig in STOP_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)
    raise StopRequested(signal.Signals(signum).name)


def watch(children: list[ManagedProcess]) -> ManagedProcess:
    """Block until a child exits on its own; return it."""
    while True:
        for child in children:
            if not child.is_running():
                return child
        time.sleep(WATCH_INTERVAL)


def run(environ) -> int:
    ports = read_ports(environ)
    if isinstance(ports, str):
        return fail(ports)
    aws_url = local_url(ports["LOCAL_AWS_PORT"])
    bedrock_url = local_url(ports["LOCAL_BEDROCK_PORT"])
    chat_api_url = local_url(ports["CHAT_API_PORT"])
    auth_url = local_url(ports["LOCAL_AUTH_PORT"])
    web_app_url = local_url(ports["WEB_APP_PORT"])
    state = state_dir(environ)
    logs = state / "logs"

    children: list[ManagedProcess] = []
    try:
        for sig in STOP_SIGNALS:
            signal.signal(sig, _request_stop)
        say(f"Starting the local stack (logs in {logs}) ...")
        # DynamoDB made safe under concurrent requests (local_stack/local_aws.py): the web app
        # and a load test send many at once.
        moto = moto_process(
            ports["LOCAL_AWS_PORT"], log_path=logs / "local-aws.log", fit_for_load=True
        )
        children.append(moto)
        moto.start(START_TIMEOUT)
        config = bootstrap(
            aws_url,
            chat_api_url=chat_api_url,
            bedrock_url=bedrock_url,
            web_app_url=web_app_url,
            auth_url=auth_url,
        )

        auth = auth_server_process(
            ports["LOCAL_AUTH_PORT"], config, log_path=logs / "local-auth.log"
        )
        children.append(auth)
        auth.start(START_TIMEOUT)

        bedrock = bedrock_process(ports["LOCAL_BEDROCK_PORT"], log_path=logs / "local-bedrock.log")
        children.append(bedrock)
        bedrock.start(START_TIMEOUT)

        chat_api = chat_api_process(ports["CHAT_API_PORT"], config, log_path=logs / "chat-api.log")
        children.append(chat_api)
        chat_api.start(START_TIMEOUT)

        feedback = feedback_runner_process(config, log_path=logs / "feedback-ingestion.log")
        children.append(feedback)
        feedback.start(START_TIMEOUT)

        web_app = reflex_process(
            ports["WEB_APP_PORT"], config, work_dir=state / "web-app", log_path=logs / "web-app.log"
        )
        children.append(web_app)
        web_app.start(WEB_APP_START_TIMEOUT)

        env_file = state / "stack.env"
        write_env_file(env_file, config)
        say(
            "\n".join(
                [
                    f"  Web app          {web_app_url}",
                    f"  Chat API         {chat_api_url}/api/v1",
                    f"  OpenAPI document {chat_api_url}/api/v1/openapi.json",
                    f"  Local AWS        {aws_url}",
                    f"  Model server     {bedrock_url}",
                    f"  Managed login    {auth_url} (federated test user: Continue with Google)",
                    f"  Demo user        {DEMO_USER_EMAIL} / {DEMO_USER_PASSWORD}",
                    f"  Configuration    {env_file}",
                    f"  Logs             {logs}",
                    "Ready. Press Ctrl-C to stop.",
                ]
            )
        )
        died = watch(children)
        return_code = fail(
            f"{died.name} stopped unexpectedly (exit code {died.returncode}); "
            f"see {died.log_path}. Stopping the rest."
        )
    except StopRequested:
        say("Stopping ...")
        return_code = 0
    except ProcessStartError as error:
        return_code = fail(f"Could not start the local stack: {error}")
    except Exception as error:  # e.g. the bootstrap failing: one line, then clean up
        return_code = fail(f"Could not start the local stack: {type(error).__name__}: {error}")
    finally:
        for sig in STOP_SIGNALS:
            signal.signal(sig, signal.SIG_IGN)
        for child in reversed(children):
            child.stop()
    if return_code == 0:
        say("Stopped.")
    return return_code


if __name__ == "__main__":
    sys.exit(run(os.environ))
