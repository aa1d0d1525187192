"""The plan without Copilot. What Copilot renders (`make copilot-package`, with the overrides in
copilot/) deploys with CloudFormation alone. The rendering made up what only the account has
(its id, the certificate, the application's artifact bucket and key;
copilot/build/<env>/stand-ins.json): `python -m deploy templates` writes the templates with the
account's values, and the plan passes them as parameters. Printed only: an operator runs the
lines (docs/operations.md)."""

from __future__ import annotations

import json
import os
import shlex
from dataclasses import dataclass
from pathlib import Path

from deploy.plan import cdk_edge_step, cdk_platform_step, smoke_step
from deploy.steps import (
    APP,
    COPILOT_DIR,
    REPO_ROOT,
    SERVICES,
    DeployError,
    Lookup,
    Run,
    Var,
    account_check,
    certificate_lookup,
    deploy_module_step,
    environment,
    image_tag_lookup,
)
from deploy.web_ui_release import web_ui_release_steps

BUILD_DIR = COPILOT_DIR / "build"
STAND_INS = "stand-ins.json"
CLOUDFORMATION_DIR = "cloudformation"
ARTIFACT_PREFIX = "manual"


@dataclass(frozen=True)
class Text:
    """A value made of literal text and ${NAME} references to looked-up values."""

    template: str

    def __str__(self) -> str:
        return self.template


@dataclass(frozen=True)
class StackDeploy:
    """`aws cloudformation deploy` of one rendered template with all its parameters."""

    title: str
    stack: str
    template: str  # relative to the repository root
    parameters: dict[str, str | Text]
    tags: dict[str, str]
    role: Text | None = None

    def command_line(self) -> str:
        def quoted(key: str, value: str | Text) -> str:
            if isinstance(value, Text):
                return f'"{key}={value}"'
            return shlex.quote(f"{key}={value}")

        words = [
            "aws cloudformation deploy",
            f"--stack-name {self.stack}",
            f"--template-file {self.template}",
            '--s3-bucket "${ARTIFACT_BUCKET}"',
            f"--s3-prefix {ARTIFACT_PREFIX}/templates",
            "--capabilities CAPABILITY_IAM CAPABILITY_NAMED_IAM",
            "--no-fail-on-empty-changeset",
        ]
        if self.role:
            words.append(f'--role-arn "{self.role}"')
        words.append(
            "--parameter-overrides "
            + " ".join(quoted(k, v) for k, v in sorted(self.parameters.items()))
        )
        words.append("--tags " + " ".join(f"{k}={v}" for k, v in sorted(self.tags.items())))
        return " ".join(words)


@dataclass(frozen=True)
class Printed:
    """A command for the operator to run as printed (a pipe or docker)."""

    title: str
    line: str

    def command_line(self) -> str:
        return self.line


def stand_ins(build_dir: Path, env: str) -> dict[str, str]:
    path = build_dir / env / STAND_INS
    if not path.exists():
        raise DeployError(f"{path} is missing: run `make copilot-package` first")
    return json.loads(path.read_text())


def _by_length(replacements: dict[str, str]) -> list[tuple[str, str]]:
    """Longest stand-in first: the ARNs contain the account id."""
    return sorted(replacements.items(), key=lambda item: -len(item[1]))


def with_references(value: str, replacements: dict[str, str]) -> str | Text:
    """`value` with every stand-in replaced by a ${NAME} reference."""
    replaced = value
    for name, stand_in in _by_length(replacements):
        replaced = replaced.replace(stand_in, "${" + name + "}")
    return Text(replaced) if replaced != value else value


def without_copilot_plan(env: str, build_dir: Path = BUILD_DIR) -> list:
    settings = environment(env)
    account, region = settings["account"], settings["region"]
    build_dir = Path(build_dir)
    shown = build_dir.relative_to(REPO_ROOT) if build_dir.is_relative_to(REPO_ROOT) else build_dir
    out = shown / env / CLOUDFORMATION_DIR
    replacements = stand_ins(build_dir, env)
    app_stack = Var("APP_STACK")
    execution_role = Text(f"arn:aws:iam::${{ACCOUNT}}:role/{APP}-{env}-CFNExecutionRole")

    def app_output(name: str, output: str) -> Lookup:
        query = f"Stacks[0].Outputs[?OutputKey=='{output}'].OutputValue | [0]"
        return Lookup(
            f"The application's {output} (its stack set's stack in {region})",
            name,
            f"output {output} of the application's stack",
            f'aws cloudformation describe-stacks --stack-name "$APP_STACK" --query "{query}" '
            "--output text",
            lambda context: None,
        )

    def parameters(params_file: str) -> tuple[dict, dict]:
        rendered = json.loads((build_dir / env / params_file).read_text())
        values = {k: with_references(v, replacements) for k, v in rendered["Parameters"].items()}
        return values, rendered.get("Tags", {})

    steps: list = [
        account_check(account),
        Run(
            "Templates: Copilot's own rendering with the overrides, offline (no AWS call)",
            ("make", "copilot-package"),
        ),
        certificate_lookup(env),
        Lookup(
            "The application's stack (the stack set's instance made by `copilot app init`)",
            app_stack.name,
            f"stack instance of {APP}-infrastructure in {region}",
            f"aws cloudformation list-stack-instances --stack-set-name {APP}-infrastructure "
            f"--stack-instance-region {region} --query 'Summaries[0].StackId' --output text",
            lambda context: None,
        ),
        app_output("ARTIFACT_BUCKET", "PipelineBucket"),
        app_output("ARTIFACT_KEY", "KMSKeyARN"),
        image_tag_lookup(),
        deploy_module_step(
            "The templates with the account's values in place of the rendering's stand-ins",
            "templates",
            env,
        ),
        cdk_platform_step(env),
    ]
    env_parameters, env_tags = parameters(f"{env}.env.params.json")
    steps.append(
        StackDeploy(
            "Environment: VPC, NAT, load balancer with the platform's certificate, cluster",
            f"{APP}-{env}",
            str(out / f"{env}.env.yml"),
            env_parameters,
            env_tags,
            role=execution_role,
        )
    )
    registry = f"${{ACCOUNT}}.dkr.ecr.{region}.amazonaws.com"
    steps.append(
        Printed(
            "Registry login",
            "aws ecr get-login-password | "
            f'docker login --username AWS --password-stdin "{registry}"',
        )
    )
    for service in SERVICES:
        image = f"{registry}/{APP}/{service}:${{IMAGE_TAG}}"
        addons_key = f"{ARTIFACT_PREFIX}/addons/{service}/${{IMAGE_TAG}}.yml"
        service_parameters, service_tags = parameters(f"{service}-{env}.params.json")
        service_parameters.update(
            ContainerImage=Text(image),
            AddonsTemplateURL=Text(
                f"https://${{ARTIFACT_BUCKET}}.s3.{region}.amazonaws.com/{addons_key}"
            ),
        )
        steps += [
            Printed(
                f"Image of {service}: the Dockerfile's target, tagged with the commit",
                f'docker build --target {service} --tag "{image}" . && docker push "{image}"',
            ),
            Printed(
                f"Addons of {service} (a nested stack: CloudFormation reads it from S3)",
                f"aws s3 cp {out / f'{service}.addons.stack.yml'} "
                f'"s3://${{ARTIFACT_BUCKET}}/{addons_key}" '
                '--sse aws:kms --sse-kms-key-id "${ARTIFACT_KEY}"',
            ),
            StackDeploy(
                f"Service {service}: task definition, ECS service, target group, rules",
                f"{APP}-{env}-{service}",
                str(out / f"{service}-{env}.stack.yml"),
                service_parameters,
                service_tags,
                role=execution_role,
            ),
        ]
    steps += [cdk_edge_step(env), smoke_step(env), *web_ui_release_steps(env, settings)]
    return steps


def write_templates(
    env: str, build_dir: Path = BUILD_DIR, values: dict | None = None
) -> list[Path]:
    """build/<env>/cloudformation/: the rendered templates with the account's values (from the
    environment variables ACCOUNT, API_CERTIFICATE_ARN, ARTIFACT_BUCKET, ARTIFACT_KEY) in place
    of the rendering's stand-ins."""
    replacements = stand_ins(Path(build_dir), env)
    values = values if values is not None else os.environ
    missing = [name for name in replacements if not str(values.get(name, "")).strip()]
    if missing:
        raise DeployError(f"set {', '.join(missing)} (the plan's lookups) first")
    source = Path(build_dir) / env
    out = source / CLOUDFORMATION_DIR
    out.mkdir(exist_ok=True)
    written = []
    for template in sorted(source.glob("*.yml")):
        text = template.read_text()
        for name, stand_in in _by_length(replacements):
            text = text.replace(stand_in, values[name])
        (out / template.name).write_text(text)
        written.append(out / template.name)
    return written
