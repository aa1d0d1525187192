"""Every stack of one environment in one CDK app, with the cdk-nag gate (see app.py)."""

from __future__ import annotations

import os
from pathlib import Path

import aws_cdk as cdk

import config
import nag
from chatbot_common import contract
from checkov_skips import CheckovSkips
from edge_stack import Edge
from platform_stacks import PlatformStateful, PlatformStateless

HERE = Path(__file__).resolve().parent
DEFAULT_OUTDIR = HERE / "cdk.out"
CHALICE_OUTDIR = HERE / "chalice.out"


def under_cli() -> bool:
    """The CDK CLI passes the context and the output folder through these variables."""
    return "CDK_CONTEXT_JSON" in os.environ or "CDK_OUTDIR" in os.environ


def build_app(
    env_name: str | None = None,
    *,
    outdir: str | os.PathLike[str] | None = None,
    report_pack: bool = False,
) -> cdk.App:
    """Every stack of one environment in a new app with the nag gate added; not yet synthesised.

    The environment is `env_name`, else the `env` context (`cdk synth -c env=prod`), else
    `CHATBOT_ENV`, else dev. `report_pack` adds NIST 800-53 rev 5 (for the report only).
    """
    cli = under_cli()
    context = None if cli else config.cdk_json_context()
    app = cdk.App(
        context=context,
        outdir=None if cli else str(outdir or DEFAULT_OUTDIR),
        analytics_reporting=False,
    )
    env_name = env_name or app.node.try_get_context("env") or os.environ.get("CHATBOT_ENV", "dev")
    environments = app.node.try_get_context(config.CONTEXT_KEY)
    settings = config.load(env_name, {config.CONTEXT_KEY: environments} if environments else {})
    # Every stack: the environment's settings, its account and region, and the same tags.
    every_stack = {
        "config": settings,
        "env": cdk.Environment(account=settings.account, region=settings.region),
        "tags": {"application": "chatbot", "environment": settings.name},
    }
    stateful = PlatformStateful(
        app,
        "PlatformStateful",
        stack_name=f"{settings.prefix}-platform-stateful",
        description=f"chatbot {settings.name}: user pool, tables, queues, hosted zone, secrets",
        **every_stack,
    )
    platform = PlatformStateless(
        app,
        "PlatformStateless",
        # The deployed name stays as first deployed: renaming a stack replaces it and its exports.
        stack_name=f"{settings.prefix}-platform",
        description=f"chatbot {settings.name}: certificates, guardrail, configuration, deploy role",
        stateful=stateful,
        **every_stack,
    )
    Edge(
        app,
        "Edge",
        stack_name=f"{settings.prefix}-edge",
        description=f"chatbot {settings.name}: WAF, DNS records, Amplify, dashboard and alarms",
        stateful=stateful,
        platform=platform,
        **every_stack,
    )
    # Copilot's task execution role reads only the SSM parameters and secrets tagged with the
    # Copilot application and environment. Only those resources carry the tags, not the stacks:
    # Copilot finds its own stacks by these tags. The Amplify token is not the containers' to read.
    for readable in (
        platform.parameters,
        stateful.web_ui_session_secret,
        stateful.identity.backend_client_secret,
    ):
        cdk.Tags.of(readable).add("copilot-application", contract.COPILOT_APP)
        cdk.Tags.of(readable).add("copilot-environment", settings.name)
    cdk.Aspects.of(app).add(CheckovSkips())
    nag.add_gate(app)
    if report_pack:
        nag.add_report_pack(app)
    return app
