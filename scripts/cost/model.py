"""The arithmetic of `make cost`: every line is quantity x unit price, per month.

Inputs are read, never changed: the Copilot manifests (task size, task count range, zones of
the environment), `cdk/cdk.json` (model, WAF rules, log retention), the price table
`prices-<region>.json` and the traffic `traffic.json` of this folder."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
SERVICES = ("chat-api", "web-ui")
# Managed rule groups of the web ACL: counted from cdk/firewall/infrastructure.py so that a new
# group shows up in the bill.
FIREWALL_SOURCE = ROOT / "cdk" / "firewall" / "infrastructure.py"
# Customer-managed KMS keys of the CDK app (one each: Chalice logs, edge, backup vault).
KMS_KEY_PATTERN = re.compile(r"\bkms\.Key\(")
# The platform's own Secrets Manager secrets (web UI session key, Amplify's GitHub token).
SECRET_PATTERN = re.compile(r"\bsecretsmanager\.Secret\(")
# As DAILY_DAYS_MAX in cdk/backup/infrastructure.py (a test keeps them equal).
DAILY_BACKUP_DAYS_MAX = 35


@dataclass(frozen=True)
class Task:
    service: str
    vcpu: float
    memory_gb: float
    min_count: int
    max_count: int


@dataclass(frozen=True)
class Line:
    item: str
    quantity: str
    at_min: float
    at_max: float


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def service_task(manifest: dict[str, Any], env: str) -> Task:
    """A service's task size and count range in `env`, its environment block applied."""
    resolved = _merge(manifest, (manifest.get("environments") or {}).get(env) or {})
    count = resolved.get("count", 1)
    if isinstance(count, int):
        low = high = count
    else:
        low, high = int(count["range"]["min"]), int(count["range"]["max"])
    return Task(
        service=manifest["name"],
        vcpu=int(resolved["cpu"]) / 1024,
        memory_gb=int(resolved["memory"]) / 1024,
        min_count=low,
        max_count=high,
    )


def zones(environment_manifest: dict[str, Any]) -> int:
    """Copilot puts one NAT gateway (and its public address) in each public subnet's zone."""
    return len(environment_manifest["network"]["vpc"]["subnets"]["public"])


def waf_rule_count(env_config: dict[str, Any], firewall_source: str) -> int:
    managed = len(re.findall(r'"AWSManagedRules\w+"', firewall_source))
    geo = 1 if env_config.get("waf_geo_block_countries") else 0
    # BlockedIps and ApiRatePerIp are always there.
    return 2 + geo + managed


@dataclass(frozen=True)
class Inputs:
    env: str
    tasks: tuple[Task, ...]
    zones: int
    container_insights: bool
    env_config: dict[str, Any]
    waf_rules: int
    kms_keys: int
    secrets: int
    traffic: dict[str, Any]
    per_chat: dict[str, float]
    shared: dict[str, Any]
    prices: dict[str, Any]


def load_inputs(env: str, root: Path = ROOT, prices_path: Path | None = None) -> Inputs:
    environments = json.loads((root / "cdk" / "cdk.json").read_text())["context"][
        "chatbot:environments"
    ]
    if env not in environments:
        raise SystemExit(f"ENV={env} is not one of: {', '.join(environments)}")
    env_config = environments[env]
    region = env_config["region"]
    prices_path = prices_path or HERE / f"prices-{region}.json"
    if not prices_path.exists():
        raise SystemExit(f"no price table for {region}: add {prices_path.name} beside model.py")
    prices = json.loads(prices_path.read_text())
    traffic_file = json.loads((HERE / "traffic.json").read_text())
    tasks = tuple(
        service_task(yaml.safe_load((root / "copilot" / s / "manifest.yml").read_text()), env)
        for s in SERVICES
    )
    environment_manifest = yaml.safe_load(
        (root / "copilot" / "environments" / env / "manifest.yml").read_text()
    )
    cdk_sources = "".join(
        p.read_text() for p in (root / "cdk").rglob("*.py") if "tests" not in p.parts
    )
    return Inputs(
        env=env,
        tasks=tasks,
        zones=zones(environment_manifest),
        container_insights=bool(
            (environment_manifest.get("observability") or {}).get("container_insights")
        ),
        env_config=env_config,
        waf_rules=waf_rule_count(
            env_config, (root / FIREWALL_SOURCE.relative_to(ROOT)).read_text()
        ),
        kms_keys=len(KMS_KEY_PATTERN.findall(cdk_sources)),
        secrets=len(SECRET_PATTERN.findall(cdk_sources)),
        traffic=traffic_file["environments"][env],
        per_chat=traffic_file["per_chat"],
        shared={k: v for k, v in traffic_file.items() if k not in ("environments", "per_chat")},
        prices=prices,
    )


def monthly_lines(inputs: Inputs) -> list[Line]:
    """One line per cost item, at the minimum and at the maximum task count."""
    p, hours = inputs.prices, inputs.prices["hours_per_month"]
    chats = inputs.traffic["chats_per_month"]
    per_chat = inputs.per_chat
    lines: list[Line] = []

    for task in inputs.tasks:
        per_task = hours * (
            task.vcpu * p["fargate"]["vcpu_hour"] + task.memory_gb * p["fargate"]["gb_hour"]
        )
        lines.append(
            Line(
                f"Fargate {task.service}",
                f"{task.vcpu:g} vCPU, {task.memory_gb:g} GB x {task.min_count}-{task.max_count}",
                per_task * task.min_count,
                per_task * task.max_count,
            )
        )
    nat = inputs.zones * hours * p["nat_gateway"]["hour"]
    nat += inputs.traffic["nat_gb_per_month"] * p["nat_gateway"]["gb_processed"]
    lines.append(_fixed("NAT gateways", f"{inputs.zones} + data", nat))
    # Public IPv4 addresses: one per NAT gateway and one per zone of the internet-facing ALB.
    addresses = 2 * inputs.zones
    lines.append(
        _fixed(
            "Public IPv4", f"{addresses} addresses", addresses * hours * p["public_ipv4"]["hour"]
        )
    )
    alb = hours * p["alb"]["hour"] + chats * per_chat["alb_lcu_hours"] * p["alb"]["lcu_hour"]
    lines.append(_fixed("Load balancer", "1 ALB + LCUs", alb))
    waf_requests = chats * per_chat["waf_requests"]
    waf = (
        p["waf"]["web_acl_month"]
        + inputs.waf_rules * p["waf"]["rule_month"]
        + waf_requests / 1e6 * p["waf"]["million_requests"]
    )
    lines.append(_fixed("WAF", f"1 ACL, {inputs.waf_rules} rules, {waf_requests:,.0f} req", waf))
    ddb = p["dynamodb_on_demand"]
    data_gb = inputs.traffic["data_gb"]
    dynamodb = (
        chats * per_chat["write_request_units"] / 1e6 * ddb["million_write_request_units"]
        + chats * per_chat["read_request_units"] / 1e6 * ddb["million_read_request_units"]
        + data_gb * (ddb["gb_month"] + ddb["pitr_gb_month"])
    )
    lines.append(_fixed("DynamoDB on-demand + PITR", f"{chats:,} chats, {data_gb} GB", dynamodb))
    # The backup plan (cdk/backup/) keeps a daily copy up to 35 days and a weekly one beyond;
    # each DynamoDB recovery point is a full copy of the tables.
    retention = int(inputs.env_config.get("backup_retention_days", 0))
    daily = min(retention, DAILY_BACKUP_DAYS_MAX)
    kept_copies = daily + max(0, retention - daily) // 7
    lines.append(
        _fixed(
            "AWS Backup (tables)",
            f"{kept_copies} copies x {data_gb} GB",
            kept_copies * data_gb * p["backup_dynamodb"]["warm_gb_month"],
        )
    )
    valkey_prices = p["valkey_serverless"]
    valkey_gb = max(inputs.shared["valkey_gb"], valkey_prices["minimum_gb"])
    valkey = (
        valkey_gb * hours * valkey_prices["gb_hour"]
        + chats * per_chat["valkey_ecpu"] / 1e6 * valkey_prices["million_ecpu"]
    )
    lines.append(_fixed("Valkey serverless", f"{valkey_gb:g} GB", valkey))
    lines.append(
        _fixed("Bedrock tokens", f"{chats:,} chats", chats / 1000 * bedrock_per_1000(inputs))
    )
    cw = p["cloudwatch"]
    logs_gb = inputs.traffic["logs_gb_per_month"]
    retention_months = min(int(inputs.env_config["log_retention_days"]) / 30, 12)
    cloudwatch = (
        logs_gb * cw["logs_gb_ingested"]
        + logs_gb * retention_months * cw["logs_gb_month_stored"]
        + inputs.shared["alarms"] * cw["alarm_month"]
        + cw["dashboard_month"]
    )
    insights_min = insights_max = 0.0
    if inputs.container_insights:
        insights_min = (
            sum(t.min_count for t in inputs.tasks) * cw["container_insights_per_task_month"]
        )
        insights_max = (
            sum(t.max_count for t in inputs.tasks) * cw["container_insights_per_task_month"]
        )
    lines.append(
        Line(
            "CloudWatch",
            f"{logs_gb} GB logs, {inputs.shared['alarms']} alarms, dashboard"
            + (", Container Insights" if inputs.container_insights else ""),
            cloudwatch + insights_min,
            cloudwatch + insights_max,
        )
    )
    r53 = p["route53"]
    route53 = (
        r53["hosted_zone_month"]
        + inputs.shared["route53_million_queries_per_month"] * r53["million_queries"]
    )
    lines.append(_fixed("Route 53", "1 zone", route53))
    lines.append(
        _fixed(
            "Secrets Manager + KMS",
            f"{inputs.secrets} secrets, {inputs.kms_keys} keys",
            inputs.secrets * p["secrets_manager"]["secret_month"]
            + inputs.kms_keys * p["kms"]["key_month"],
        )
    )
    lines.append(
        _fixed(
            "SQS feedback",
            f"{chats * per_chat['sqs_requests']:,.0f} requests",
            chats * per_chat["sqs_requests"] / 1e6 * p["sqs"]["million_requests"],
        )
    )
    cognito = p["cognito"]
    billable = max(0, inputs.traffic["monthly_active_users"] - cognito["free_mau"])
    lines.append(
        _fixed(
            "Cognito", f"{inputs.traffic['monthly_active_users']:,} MAU", billable * cognito["mau"]
        )
    )
    return lines


def bedrock_per_1000(inputs: Inputs) -> float:
    """Model cost of 1,000 chats at the stated tokens per chat, for the configured model."""
    model_id = inputs.env_config["bedrock_model_id"]
    models = inputs.prices["bedrock"]
    if model_id not in models:
        raise SystemExit(f"no Bedrock price for {model_id}: add it to the price table")
    price = models[model_id]
    return 1000 * (
        inputs.per_chat["input_tokens"] / 1000 * price["input_1k_tokens"]
        + inputs.per_chat["output_tokens"] / 1000 * price["output_1k_tokens"]
    )


def _fixed(item: str, quantity: str, amount: float) -> Line:
    return Line(item, quantity, amount, amount)


def render(inputs: Inputs, lines: list[Line]) -> str:
    prices = inputs.prices
    width = max(len(line.item) for line in lines)
    qwidth = max(len(line.quantity) for line in lines)
    out = [
        f"Monthly cost of {inputs.env} in {prices['region']} (prices of {prices['recorded_on']}, "
        f"{prices['currency']}, {prices['hours_per_month']} h a month)",
        f"Traffic: {inputs.traffic['chats_per_month']:,} chats a month "
        f"(scripts/cost/traffic.json); Bedrock {inputs.env_config['bedrock_model_id']}: "
        f"{bedrock_per_1000(inputs):.2f} per 1,000 chats",
        "",
        f"{'item':<{width}}  {'quantity':<{qwidth}}  {'min tasks':>10}  {'max tasks':>10}",
    ]
    for line in lines:
        out.append(
            f"{line.item:<{width}}  {line.quantity:<{qwidth}}  "
            f"{line.at_min:>10,.2f}  {line.at_max:>10,.2f}"
        )
    total_min = sum(line.at_min for line in lines)
    total_max = sum(line.at_max for line in lines)
    out.append(f"{'total':<{width}}  {'':<{qwidth}}  {total_min:>10,.2f}  {total_max:>10,.2f}")
    return "\n".join(out)
