"""Start, watch and stop the local stack's server processes.

Used by `make run`, by test fixtures and by benchmarks. Every child runs in its own session so
that a Ctrl-C in the terminal reaches only the parent, which then stops the children in order,
and so that stopping a child can take down everything it spawned (its process group).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPTS_DIR = REPO_ROOT / "scripts"
CHAT_API_DIR = REPO_ROOT / "chat-api"

LOCAL_HOSTS = ("127.0.0.1", "localhost")
# Every process of the stack listens on the loopback address only.
LOOPBACK = "127.0.0.1"
_POLL_INTERVAL = 0.05
_LOG_TAIL_LINES = 30

# Readiness probes must never go through a proxy configured in the environment.
_DIRECT_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class ProcessStartError(RuntimeError):
    """A managed process exited or never became ready; the message carries its log tail."""


def local_url(port: int | str, path: str = "") -> str:
    """The URL of a stack process's port (and `path` on it)."""
    return f"http://{LOOPBACK}:{port}{path}"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def port_is_free(port: int, host: str = LOOPBACK) -> bool:
    """True when a server could bind `host:port` now.

    SO_REUSEADDR mirrors what the servers themselves set, so connections left in TIME_WAIT by
    a stack that just stopped do not count as "busy"; a listening socket still does.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def child_env(overrides: dict | None = None) -> dict[str, str]:
    """The parent's environment plus the repo's import paths and `overrides`."""
    env = dict(os.environ)
    paths = [str(SCRIPTS_DIR), str(CHAT_API_DIR)]
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env["PYTHONUNBUFFERED"] = "1"  # so log files show output as it happens
    # The stack only talks to 127.0.0.1; a proxy from the environment must not intercept it.
    for name in ("NO_PROXY", "no_proxy"):
        env[name] = ",".join(filter(None, [env.get(name), *LOCAL_HOSTS]))
    env.update({key: str(value) for key, value in (overrides or {}).items()})
    return env


def _load_prctl():
    # Looked up in the parent: after fork() the child should only call, not load libraries.
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


_PRCTL = _load_prctl()
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """Runs in the child before exec: get SIGTERM when the parent dies.

    Without it, a parent killed with SIGKILL would leave servers holding the stack's ports.
    """
    _PRCTL(_PR_SET_PDEATHSIG, int(signal.SIGTERM))


class ManagedProcess:
    """One server process: started in its own session, ready when it answers, stopped by pid."""

    def __init__(
        self,
        name: str,
        argv: list[str],
        *,
        env: dict | None = None,
        cwd=None,
        ready_url: str | None = None,
        ready_port: int | None = None,
        log_path=None,
    ):
        if ready_url is not None:
            host = urllib.parse.urlsplit(ready_url).hostname
            if host not in LOCAL_HOSTS:
                raise ValueError(f"{name}: ready_url must point at 127.0.0.1, got {ready_url}")
        self.name = name
        self.argv = [str(arg) for arg in argv]
        self.env = env
        self.cwd = cwd
        self.ready_url = ready_url
        self.ready_port = ready_port
        self.log_path = Path(log_path) if log_path is not None else None
        self._popen: subprocess.Popen | None = None
        self._group_killed = False

    def __repr__(self) -> str:
        return f"ManagedProcess({self.name!r}, pid={self.pid}, returncode={self.returncode})"

    @property
    def pid(self) -> int | None:
        return self._popen.pid if self._popen else None

    @property
    def returncode(self) -> int | None:
        return self._popen.poll() if self._popen else None

    def is_running(self) -> bool:
        return self._popen is not None and self._popen.poll() is None

    def start(self, timeout: float = 30) -> ManagedProcess:
        """Start the process and wait until it is ready; raise ProcessStartError otherwise.

        On Linux the child gets SIGTERM when the thread that started it ends, so start it from
        a thread that outlives it (the main thread, normally).
        """
        if self._popen is not None:
            raise RuntimeError(f"{self.name} was already started")
        output = None
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            output = open(self.log_path, "wb")  # noqa: SIM115 - the child keeps it open
        try:
            self._popen = subprocess.Popen(
                self.argv,
                env=self.env,
                cwd=self.cwd,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT if output else None,
                start_new_session=True,
                preexec_fn=_die_with_parent if _PRCTL is not None else None,
            )
        finally:
            if output is not None:
                output.close()  # the child has its own copy of the descriptor
        try:
            self._wait_until_ready(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_until_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self._popen.poll() is not None:
                raise ProcessStartError(
                    f"{self.name} exited with code {self._popen.returncode} before it was ready"
                    + self._log_tail()
                )
            if self._is_ready():
                return
            if time.monotonic() >= deadline:
                raise ProcessStartError(
                    f"{self.name} was not ready after {timeout:g} s" + self._log_tail()
                )
            time.sleep(_POLL_INTERVAL)

    def _is_ready(self) -> bool:
        if self.ready_url is not None:
            try:
                with _DIRECT_OPENER.open(self.ready_url, timeout=2) as response:
                    return response.status == 200
            except (urllib.error.URLError, OSError, ValueError):
                return False
        if self.ready_port is not None:
            try:
                with socket.create_connection((LOOPBACK, self.ready_port), timeout=1):
                    return True
            except OSError:
                return False
        return True  # nothing to wait for: running is ready

    def _log_tail(self) -> str:
        if self.log_path is None:
            return " (its output went to the parent's terminal)"
        try:
            with open(self.log_path, "rb") as log:
                log.seek(0, os.SEEK_END)
                log.seek(max(0, log.tell() - 8192))
                lines = log.read().decode("utf-8", "replace").splitlines()[-_LOG_TAIL_LINES:]
        except OSError as error:
            return f" (cannot read {self.log_path}: {error})"
        body = "\n".join(f"  | {line}" for line in lines) or "  | (empty)"
        return f"\n--- last lines of {self.log_path} ---\n{body}"

    def send_signal(self, sig: int) -> None:
        if self.is_running():
            self._popen.send_signal(sig)

    def stop(self, timeout: float = 15) -> int | None:
        """SIGTERM, wait up to `timeout`, then SIGKILL the whole group; safe to call twice.

        Returns the exit code (negative for a signal), or None if it was never started.
        """
        if self._popen is None:
            return None
        if self._popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self._popen.send_signal(signal.SIGTERM)
            try:
                self._popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self._kill_group()
                self._popen.wait()
        # Whatever the leader left behind in its group (workers, shells' children) goes too.
        self._kill_group()
        return self._popen.returncode

    def _kill_group(self) -> None:
        # start_new_session made the child a group leader: its pid is the group id. Only once:
        # after that the id could, in theory, name somebody else's group.
        if self._group_killed:
            return
        self._group_killed = True
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._popen.pid, signal.SIGKILL)

    def __enter__(self) -> ManagedProcess:
        if self._popen is None:
            self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()


def moto_process(port: int, *, log_path=None, fit_for_load: bool = False) -> ManagedProcess:
    """The local AWS endpoint: moto in server mode, with stable Cognito pool ids.

    `fit_for_load` runs local_stack.local_aws instead: the same moto with its DynamoDB made
    safe and fast under concurrent requests (`make run` and the benchmark).
    """
    if fit_for_load:
        argv = [sys.executable, "-m", "local_stack.local_aws", "--port", str(port)]
    else:
        argv = [sys.executable, "-m", "moto.server", "-H", LOOPBACK, "-p", str(port)]
    return ManagedProcess(
        "local-aws",
        argv,
        # TOTP on: moto then checks authenticator codes (its one fixed TOTP secret) when MFA
        # is enrolled and at sign-in, as Cognito does.
        env=child_env(
            {
                "MOTO_COGNITO_IDP_USER_POOL_ID_STRATEGY": "HASH",
                "MOTO_COGNITO_IDP_USER_POOL_ENABLE_TOTP": "true",
            }
        ),
        ready_url=local_url(port, "/moto-api/"),
        log_path=log_path,
    )


def bedrock_process(port: int, *, extra_args=(), log_path=None) -> ManagedProcess:
    """The local Bedrock Runtime-compatible model server."""
    argv = [sys.executable, "-m", "local_stack.bedrock_server"]
    argv += ["--host", LOOPBACK, "--port", str(port), *extra_args]
    return ManagedProcess(
        "local-bedrock",
        argv,
        env=child_env(),
        ready_url=local_url(port, "/_local/health"),
        log_path=log_path,
    )


def auth_server_process(port: int, env: dict, *, log_path=None) -> ManagedProcess:
    """The local managed login (Cognito's /oauth2/* endpoints) for the local user pool."""
    settings = ("AWS_REGION", "AWS_ENDPOINT_URL", "COGNITO_USER_POOL_ID", "COGNITO_ISSUER")
    overrides = {key: env[key] for key in (*settings, "COGNITO_JWKS_URL")}
    argv = [sys.executable, "-m", "local_stack.auth_server", "--host", LOOPBACK]
    return ManagedProcess(
        "local-auth",
        [*argv, "--port", str(port)],
        env=child_env(overrides),
        ready_url=local_url(port, "/_local/health"),
        log_path=log_path,
    )


# Settings of the stack that only the web app may see.
WEB_APP_ONLY_SETTINGS = ("COGNITO_WEB_CLIENT_SECRET",)


def _without_web_app_secrets(env: dict) -> dict:
    return {key: value for key, value in env.items() if key not in WEB_APP_ONLY_SETTINGS}


def _only_given_aws(environ: dict, given) -> dict:
    """`environ` without the AWS_* variables `given` does not name: the developer's own AWS
    settings (profile, session token, credentials) never leak into a local process."""
    return {k: v for k, v in environ.items() if not k.startswith("AWS_") or k in given}


def chat_api_process(port: int, env: dict, *, log_path=None) -> ManagedProcess:
    """The chat API under Gunicorn, configured only by `env` (plus CHAT_API_BIND)."""
    env = _without_web_app_secrets(env)
    # `env` carries every AWS_* value the chat API should see.
    merged = _only_given_aws(child_env({**env, "CHAT_API_BIND": f"{LOOPBACK}:{port}"}), env)
    argv = [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "chat_api:create_app()"]
    return ManagedProcess(
        "chat-api",
        argv,
        env=merged,
        cwd=CHAT_API_DIR,
        ready_url=local_url(port, "/api/v1/health"),
        log_path=log_path,
    )


LAMBDAS_DIR = REPO_ROOT / "lambdas"
# The Chalice app has its own venv (mk/chalice.mk): chalice pins pip and its own dependencies.
LAMBDAS_PYTHON = REPO_ROOT / ".venvs" / "lambdas" / "bin" / "python"


def feedback_runner_process(env: dict, *, python=None, log_path=None) -> ManagedProcess:
    """The feedback ingestion: the Chalice SQS handler fed from the local queue.

    Configured only by `env` (FEEDBACK_QUEUE_URL, FEEDBACK_TABLE, FEEDBACK_DLQ_URL, the SDK's
    endpoint and credentials); runs with the Chalice app's interpreter unless `python` says.
    """
    env = _without_web_app_secrets(env)
    inherited = {key for key in os.environ if key.startswith("AWS_")}
    merged = child_env(env)
    for key in inherited - set(env):
        merged.pop(key, None)
    interpreter = Path(python or LAMBDAS_PYTHON)
    if not interpreter.exists():
        raise ProcessStartError(
            f"{interpreter} is missing: `make run` installs it (make .venvs/lambdas/.installed)"
        )
    argv = [str(interpreter), str(LAMBDAS_DIR / "feedback_runner.py")]
    return ManagedProcess(
        "feedback-ingestion", argv, env=merged, cwd=LAMBDAS_DIR, log_path=log_path
    )


WEB_UI_DIR = REPO_ROOT / "web-ui"
# The web app has its own venv (mk/web-ui.mk) and a bun binary from the npm registry.
WEB_UI_PYTHON = REPO_ROOT / ".venvs" / "web-ui" / "bin" / "python"
WEB_UI_BUN = WEB_UI_DIR / "bun" / "node_modules" / "@oven" / "bun-linux-x64" / "bin" / "bun"
# What the web app reads from the stack's configuration (the contract's names).
WEB_UI_SETTINGS = (
    "APP_ENV",
    "AWS_REGION",
    "COGNITO_USER_POOL_ID",
    "COGNITO_APP_CLIENT_ID",
    "COGNITO_WEB_CLIENT_SECRET",
    "CHAT_API_URL",
    "AWS_ENDPOINT_URL",
    # The federated sign-in (web_ui/oauth.py).
    "COGNITO_DOMAIN_URL",
    "COGNITO_IDENTITY_PROVIDERS",
    "COGNITO_ISSUER",
    "COGNITO_JWKS_URL",
    "WEB_APP_URL",
)


def reflex_process(
    port: int, env: dict, *, work_dir, python=None, extra_env=None, log_path=None
) -> ManagedProcess:
    """The Reflex web app in prod mode: frontend and backend on one port of 127.0.0.1.

    `env` is the stack's configuration; `work_dir` holds Reflex's build (`.web`) and
    server-side state (`.states`), so that several instances never share a build folder.
    """
    interpreter = Path(python or WEB_UI_PYTHON)
    if not interpreter.exists() or not WEB_UI_BUN.exists():
        raise ProcessStartError(
            f"{interpreter} or {WEB_UI_BUN} is missing: `make run` installs them "
            "(make .venvs/web-ui/.installed)"
        )
    work_dir = Path(work_dir)
    settings = {key: env[key] for key in WEB_UI_SETTINGS if key in env}
    merged = child_env(
        {
            **settings,
            "REFLEX_BUN_PATH": WEB_UI_BUN,
            "REFLEX_TELEMETRY_ENABLED": "false",
            "REFLEX_CHECK_LATEST_VERSION": "0",
            "REFLEX_WEB_WORKDIR": work_dir / "web",
            "REFLEX_STATES_WORKDIR": work_dir / "states",
            "REFLEX_API_URL": local_url(port),
            "REFLEX_DEPLOY_URL": local_url(port),
            **(extra_env or {}),
        }
    )
    # The web app calls Cognito's public operations unsigned: it gets no AWS credentials.
    merged = _only_given_aws(merged, settings)
    argv = [str(interpreter), "-m", "reflex", "run", "--env", "prod", "--single-port"]
    argv += ["--frontend-port", str(port), "--backend-host", LOOPBACK]
    return ManagedProcess(
        "web-app",
        argv,
        env=merged,
        cwd=WEB_UI_DIR,
        ready_url=local_url(port, "/ping"),
        log_path=log_path,
    )
