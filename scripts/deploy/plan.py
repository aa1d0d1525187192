"""The deploy's plan, in the order of docs/architecture.md: CDK platform, Copilot environment,
Copilot services, CDK edge, the smoke test, then (where a push builds nothing) the web app's
release. `print_plan` shows it as command lines; runner.py runs it."""

from __future__ import annotations

import sys
from pathlib import Path

from deploy.steps import (
    APP,
    CDK_STACK_NAMES,
    COPILOT_DIR,
    EDGE_STACK,
    PLATFORM_STACKS,
    REPO_ROOT,
    SERVICES,
    Call,
    Context,
    DeployError,
    Run,
    Step,
    Var,
    account_check,
    cdk_deploy_command,
    certificate_lookup,
    deploy_module_step,
    environment,
    image_tag_lookup,
)
from deploy.web_ui_release import web_ui_release_steps

ECR_LIFECYCLE_POLICY = "copilot/ecr-lifecycle-policy.json"


def cdk_stacks(env: str, *ids: str) -> tuple[str, ...]:
    return tuple(CDK_STACK_NAMES[i].format(app=APP, env=env) for i in ids)


def cdk_platform_step(env: str) -> Run:
    return Run(
        "CDK platform: user pool, tables, queues, certificates, configuration",
        (*cdk_deploy_command(env), *PLATFORM_STACKS),
        cwd="cdk",
        time_limit="cdk",
        stacks=cdk_stacks(env, *PLATFORM_STACKS),
    )


def cdk_edge_step(env: str) -> Run:
    return Run(
        "CDK edge: WAF on the load balancer, DNS records, Amplify, dashboard, alarms",
        (*cdk_deploy_command(env), EDGE_STACK),
        cwd="cdk",
        time_limit="cdk",
        stacks=cdk_stacks(env, EDGE_STACK),
    )


def smoke_step(env: str) -> Run:
    return deploy_module_step(
        "Smoke test: health, then a chat as a throw-away user that is removed again",
        "smoke",
        env,
        time_limit="smoke",
    )


def image_repository_settings(repository: str) -> Call:
    policy = (REPO_ROOT / ECR_LIFECYCLE_POLICY).read_text()

    def call(context: Context) -> None:
        ecr = context.client("ecr")
        ecr.put_image_scanning_configuration(
            repositoryName=repository, imageScanningConfiguration={"scanOnPush": True}
        )
        ecr.put_lifecycle_policy(repositoryName=repository, lifecyclePolicyText=policy)

    return Call(
        f"Image repository {repository}: scan on push, keep the images a rollback needs",
        (
            f"aws ecr put-image-scanning-configuration --repository-name {repository} "
            "--image-scanning-configuration scanOnPush=true",
            f"aws ecr put-lifecycle-policy --repository-name {repository} "
            f"--lifecycle-policy-text file://{ECR_LIFECYCLE_POLICY}",
        ),
        call,
    )


def deploy_plan(env: str) -> list[Step]:
    settings = environment(env)
    account, region = settings["account"], settings["region"]
    certificate = certificate_lookup(env)
    tag = image_tag_lookup()
    steps: list[Step] = [
        account_check(account),
        Run(
            "CDK CLI, pinned by cdk/package-lock.json",
            ("npm", "ci", "--no-audit", "--no-fund", "--silent"),
            cwd="cdk",
        ),
        cdk_platform_step(env),
        Run(
            "Copilot application (created on the first deploy only)",
            ("copilot", "app", "init", APP),
            unless=("copilot", "app", "show", "-n", APP),
            time_limit="copilot env",
        ),
        Run(
            "Copilot environment record (created on the first deploy only)",
            (
                "copilot",
                "env",
                "init",
                "-n",
                env,
                "--app",
                APP,
                "--region",
                region,
                "--default-config",
            ),  # fmt: skip
            unless=("copilot", "env", "show", "-n", env, "--app", APP),
            time_limit="copilot env",
        ),
        certificate,
        Run(
            "Copilot environment: VPC, NAT, load balancer with the platform's certificate",
            ("copilot", "env", "deploy", "-n", env, "--app", APP),
            env={certificate.name: Var(certificate.name)},
            time_limit="copilot env",
            stacks=(f"{APP}-{env}",),
        ),
        tag,
    ]
    for service in SERVICES:
        deploy_service = ("copilot", "svc", "deploy", "-n", service, "-e", env, "--app", APP)
        steps += [
            Run(
                f"Copilot service record and image repository of {service} (first deploy only)",
                ("copilot", "svc", "init", "-n", service, "--app", APP),
                unless=("copilot", "svc", "show", "-n", service, "--app", APP),
                time_limit="copilot svc",
            ),
            image_repository_settings(f"{APP}/{service}"),
            Run(
                f"Copilot service {service}: build, push, deploy (rolls back on failure)",
                (*deploy_service, "--tag", Var(tag.name)),
                time_limit="copilot svc",
                stacks=(f"{APP}-{env}-{service}",),
            ),
        ]
    steps += [cdk_edge_step(env), smoke_step(env), *web_ui_release_steps(env, settings)]
    return steps


def check_manifests(copilot_dir: Path) -> None:
    """Copilot ignores unknown manifest keys: the schemas are checked before any step runs."""
    sys.path.insert(0, str(COPILOT_DIR))
    from copilot_checks import manifests  # scripts/copilot_checks: PyYAML and jsonschema only

    problems = manifests.check(copilot_dir)
    if problems:
        raise DeployError(manifests.report(problems))


def print_plan(steps: list, env: str) -> None:
    print(f"# {len(steps)} steps for the {env} environment, run from {REPO_ROOT}")
    for number, step in enumerate(steps, 1):
        print(f"\n# {number}. {step.title}\n{step.command_line()}")
