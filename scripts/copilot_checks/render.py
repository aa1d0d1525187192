"""Render every Copilot environment and service template with the real Copilot CLI, offline.

    python -m copilot_checks [--env dev ...] [--build-dir copilot/build]

Starts moto's HTTPS proxy on a free 127.0.0.1 port, seeds it with the application's records,
runs `copilot env package` for each environment, seeds the environment stacks from the
rendered environment templates, then runs `copilot svc package` for each service and
environment. Output: <build dir>/<env>/ with Copilot's own file names.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from moto.moto_proxy.certificate_creator import CertificateCreator

from copilot_checks import aws
from local_stack.processes import ManagedProcess, child_env, free_port

COPILOT_DIR = Path(__file__).resolve().parents[2] / "copilot"
REPO_ROOT = COPILOT_DIR.parent
DEFAULT_BUILD_DIR = COPILOT_DIR / "build"
COPILOT_BIN = Path(sys.executable).with_name("copilot")
REGION = "us-east-1"
PROD_ENVIRONMENTS = {"prod"}
COMMAND_TIMEOUT = 120
STAND_INS = "stand-ins.json"


class RenderError(RuntimeError):
    """A Copilot command failed; the message carries the command and its output."""


@dataclass
class Workspace:
    app: str
    environments: list[str]
    services: list[str]

    @classmethod
    def read(cls, copilot_dir: Path = COPILOT_DIR) -> Workspace:
        app = yaml.safe_load((copilot_dir / ".workspace").read_text())["application"]
        environments = sorted(
            p.parent.name for p in (copilot_dir / "environments").glob("*/manifest.yml")
        )
        services = sorted(
            p.parent.name
            for p in copilot_dir.glob("*/manifest.yml")
            if yaml.safe_load(p.read_text()).get("type") == aws.SERVICE_TYPE
        )
        return cls(app=app, environments=environments, services=services)


@dataclass
class RenderResult:
    build_dir: Path
    files: dict[str, list[Path]] = field(default_factory=dict)  # env -> written files


def api_domain(app_domain_by_env: dict[str, str], env: str) -> str:
    return f"api.{app_domain_by_env[env]}"


def proxy_process(port: int, log_path: Path) -> ManagedProcess:
    return ManagedProcess(
        "moto-proxy",
        [sys.executable, "-m", "copilot_checks.proxy", "-H", "127.0.0.1", "-p", str(port)],
        env=child_env(),
        ready_port=port,
        log_path=log_path,
    )


def copilot_environ(proxy: aws.Proxy, home: Path, extra: dict[str, str]) -> dict[str, str]:
    """Only what Copilot needs: the proxy, dummy credentials, a private HOME; nothing of the
    developer's own AWS configuration."""
    environ = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "AWS_CONFIG_FILE": str(home / "aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / "aws-credentials"),
        "NO_PROXY": "127.0.0.1,localhost",
        **proxy.environ(),
        **extra,
    }
    return environ


# Transport failures between the CLI and the local proxy, not answers: the commands only read,
# so they are safe to run again.
TRANSIENT_ERRORS = ("connection reset by peer", "RequestError: send request failed")
ATTEMPTS = 4


def run_copilot(args: list[str], environ: dict[str, str]) -> str:
    command = [str(COPILOT_BIN), *args]
    for attempt in range(1, ATTEMPTS + 1):
        completed = subprocess.run(
            command,
            cwd=REPO_ROOT,
            env=environ,
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT,
            stdin=subprocess.DEVNULL,
        )
        if completed.returncode == 0:
            return completed.stdout
        transient = any(error in completed.stderr for error in TRANSIENT_ERRORS)
        if transient and attempt < ATTEMPTS:
            time.sleep(attempt)  # a busy proxy: give it a moment before the next try
            continue
        raise RenderError(
            f"{' '.join(['copilot', *args])} failed (exit {completed.returncode}):\n"
            f"{completed.stderr.strip()}\n{completed.stdout.strip()}"
        )
    raise AssertionError("unreachable")


def render(
    build_dir: Path = DEFAULT_BUILD_DIR,
    *,
    environments: list[str] | None = None,
    domains: dict[str, str],
) -> RenderResult:
    """Render into build_dir/<env>/; `domains` maps each environment to its domain name."""
    workspace = Workspace.read()
    environments = environments or workspace.environments
    unknown = sorted(set(environments) - set(workspace.environments))
    if unknown:
        raise RenderError(f"no environment manifest for {', '.join(unknown)}")
    build_dir = Path(build_dir)
    result = RenderResult(build_dir=build_dir)
    with tempfile.TemporaryDirectory(prefix="copilot-offline-") as scratch:
        scratch_dir = Path(scratch)
        port = free_port()
        proxy = aws.Proxy(
            url=f"http://127.0.0.1:{port}", ca_bundle=CertificateCreator.cacert, region=REGION
        )
        proxy_log = scratch_dir / "proxy.log"
        with proxy_process(port, proxy_log).start(timeout=60):
            try:
                _render_all(proxy, workspace, environments, build_dir, domains, scratch_dir, result)
            except RenderError as error:
                tail = proxy_log.read_text(errors="replace").splitlines()[-40:]
                raise RenderError(f"{error}\n--- moto proxy log ---\n" + "\n".join(tail)) from None
    return result


def _render_all(
    proxy: aws.Proxy,
    workspace: Workspace,
    environments: list[str],
    build_dir: Path,
    domains: dict[str, str],
    scratch_dir: Path,
    result: RenderResult,
) -> None:
    aws.seed_application(
        proxy, workspace.app, workspace.environments, workspace.services, prod=PROD_ENVIRONMENTS
    )
    for env in environments:
        out = build_dir / env
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir(parents=True)
        certificate = aws.import_certificate(proxy, f"api.{domains[env]}")
        environ = copilot_environ(proxy, scratch_dir, {"API_CERTIFICATE_ARN": certificate})
        manifest = (COPILOT_DIR / "environments" / env / "manifest.yml").read_text()
        aws.seed_environment(
            proxy, workspace.app, env, manifest.replace("${API_CERTIFICATE_ARN}", certificate)
        )
        app = ["-a", workspace.app]
        run_copilot(["env", "package", *app, "-n", env, "--output-dir", str(out)], environ)
        # The values the rendering made up for what only a real account has: the plan without
        # Copilot (scripts/deploy/) replaces them with the account's own.
        stand_ins = {
            "API_CERTIFICATE_ARN": certificate,
            "ARTIFACT_KEY": aws.artifact_key_arn(proxy.region),
            "ARTIFACT_BUCKET": aws.pipeline_bucket(workspace.app),
            "ACCOUNT": aws.ACCOUNT,
        }
        (out / STAND_INS).write_text(json.dumps(stand_ins, indent=2) + "\n")
        for service in workspace.services:
            run_copilot(
                ["svc", "package", *app, "-n", service, "-e", env, "--output-dir", str(out)],
                environ,
            )
        result.files[env] = sorted(out.iterdir())


class _CloudFormationLoader(yaml.SafeLoader):
    """Reads CloudFormation YAML: short-form intrinsics (!Ref, !Sub, ...) become plain dicts."""


def _intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node):
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


_CloudFormationLoader.add_multi_constructor("!", _intrinsic)


def load_template(path: Path) -> dict:
    """A rendered CloudFormation template (YAML with short-form intrinsics) as a dict."""
    # A SafeLoader with constructors for the intrinsic tags only: builds no arbitrary objects.
    return yaml.load(Path(path).read_text(), Loader=_CloudFormationLoader)  # noqa: S506
