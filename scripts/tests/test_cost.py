"""`make cost`: the arithmetic on small inputs, and every environment's table from the real
manifests, CDK configuration and price table."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cost import model

ROOT = Path(__file__).resolve().parents[2]

PRICES = {
    "region": "test-1",
    "currency": "USD",
    "recorded_on": "2026-01-01",
    "hours_per_month": 100,
    "fargate": {"vcpu_hour": 1.0, "gb_hour": 0.5},
    "nat_gateway": {"hour": 2.0, "gb_processed": 1.0},
    "public_ipv4": {"hour": 0.01},
    "alb": {"hour": 0.1, "lcu_hour": 1.0},
    "waf": {"web_acl_month": 5.0, "rule_month": 1.0, "million_requests": 2.0},
    "dynamodb_on_demand": {
        "million_write_request_units": 1.0,
        "million_read_request_units": 0.5,
        "gb_month": 1.0,
        "pitr_gb_month": 1.0,
    },
    "backup_dynamodb": {"warm_gb_month": 0.5},
    "valkey_serverless": {"gb_hour": 0.1, "million_ecpu": 1.0, "minimum_gb": 1.0},
    "bedrock": {"m": {"input_1k_tokens": 0.01, "output_1k_tokens": 0.1}},
    "cloudwatch": {
        "logs_gb_ingested": 1.0,
        "logs_gb_month_stored": 0.0,
        "alarm_month": 1.0,
        "dashboard_month": 3.0,
        "container_insights_per_task_month": 10.0,
    },
    "route53": {"hosted_zone_month": 0.5, "million_queries": 1.0},
    "secrets_manager": {"secret_month": 1.0},
    "kms": {"key_month": 2.0},
    "sqs": {"million_requests": 1.0},
    "cognito": {"free_mau": 10, "mau": 0.5},
}


def _inputs(**changes) -> model.Inputs:
    base = model.Inputs(
        env="test",
        tasks=(model.Task("api", vcpu=0.5, memory_gb=1, min_count=1, max_count=3),),
        zones=2,
        container_insights=False,
        env_config={"bedrock_model_id": "m", "log_retention_days": 30, "backup_retention_days": 7},
        waf_rules=4,
        kms_keys=1,
        secrets=2,
        traffic={
            "chats_per_month": 1_000_000,
            "monthly_active_users": 30,
            "data_gb": 2,
            "logs_gb_per_month": 4,
            "nat_gb_per_month": 10,
        },
        per_chat={
            "write_request_units": 2,
            "read_request_units": 4,
            "waf_requests": 1,
            "alb_lcu_hours": 0.000001,
            "sqs_requests": 1,
            "valkey_ecpu": 1,
            "input_tokens": 1000,
            "output_tokens": 100,
        },
        shared={"valkey_gb": 0.5, "route53_million_queries_per_month": 2, "alarms": 3},
        prices=PRICES,
    )
    return dataclasses.replace(base, **changes)


def _by_item(inputs):
    return {line.item: line for line in model.monthly_lines(inputs)}


def test_each_line_is_quantity_times_price():
    lines = _by_item(_inputs())
    # 100 h x (0.5 vCPU x 1 + 1 GB x 0.5) = 100 per task; 1 to 3 tasks.
    assert (lines["Fargate api"].at_min, lines["Fargate api"].at_max) == (100, 300)
    assert lines["NAT gateways"].at_min == 2 * 100 * 2.0 + 10 * 1.0
    assert lines["Public IPv4"].at_min == pytest.approx(4 * 100 * 0.01)
    assert lines["Load balancer"].at_min == pytest.approx(10 + 1.0)
    assert lines["WAF"].at_min == pytest.approx(5 + 4 + 2.0)
    assert lines["DynamoDB on-demand + PITR"].at_min == pytest.approx(2 + 2 + 2 * 2)
    # 7 daily recovery points of 2 GB at 0.5.
    assert lines["AWS Backup (tables)"].at_min == pytest.approx(7 * 2 * 0.5)
    # 90 days: 35 daily copies, then one a week for the 55 days beyond (7 more).
    config = {"bedrock_model_id": "m", "log_retention_days": 30, "backup_retention_days": 90}
    longer = _by_item(_inputs(env_config=config))
    assert longer["AWS Backup (tables)"].at_min == pytest.approx((35 + 7) * 2 * 0.5)
    # The serverless minimum (1 GB here) applies to a smaller store.
    assert lines["Valkey serverless"].at_min == pytest.approx(1 * 100 * 0.1 + 1)
    # 1,000 chats: 1,000 x (1 x 0.01 + 0.1 x 0.1) = 20; a million chats: 20,000.
    assert model.bedrock_per_1000(_inputs()) == pytest.approx(20)
    assert lines["Bedrock tokens"].at_min == pytest.approx(20_000)
    assert lines["CloudWatch"].at_min == pytest.approx(4 + 3 + 3)
    assert lines["Route 53"].at_min == pytest.approx(0.5 + 2)
    assert lines["Secrets Manager + KMS"].at_min == pytest.approx(2 + 2)
    assert lines["SQS feedback"].at_min == pytest.approx(1)
    assert lines["Cognito"].at_min == pytest.approx(20 * 0.5)


def test_container_insights_follow_the_task_count():
    lines = _by_item(_inputs(container_insights=True))
    assert lines["CloudWatch"].at_min == pytest.approx(10 + 1 * 10)
    assert lines["CloudWatch"].at_max == pytest.approx(10 + 3 * 10)


def test_a_model_without_a_price_is_refused():
    inputs = _inputs(env_config={"bedrock_model_id": "other", "log_retention_days": 30})
    with pytest.raises(SystemExit, match="no Bedrock price for other"):
        model.monthly_lines(inputs)


def test_environment_blocks_of_a_manifest_override_its_defaults():
    manifest = {
        "name": "svc",
        "cpu": 256,
        "memory": 512,
        "count": {"range": {"min": 1, "max": 2}, "cpu_percentage": 70},
        "environments": {"prod": {"cpu": 1024, "count": {"range": {"min": 3, "max": 9}}}},
    }
    assert model.service_task(manifest, "dev") == model.Task("svc", 0.25, 0.5, 1, 2)
    assert model.service_task(manifest, "prod") == model.Task("svc", 1.0, 0.5, 3, 9)
    assert model.service_task({**manifest, "count": 4}, "dev").max_count == 4


def test_waf_rules_are_counted_from_the_firewall_construct():
    source = (ROOT / "cdk" / "firewall" / "infrastructure.py").read_text()
    managed = source.count('"AWSManagedRules')
    assert model.waf_rule_count({"waf_geo_block_countries": []}, source) == 2 + managed
    assert model.waf_rule_count({"waf_geo_block_countries": ["XX"]}, source) == 3 + managed


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_every_environment_prints_its_table(env):
    result = subprocess.run(
        [sys.executable, "-m", "cost", env],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(ROOT / "scripts")},
    )
    inputs = model.load_inputs(env)
    lines = model.monthly_lines(inputs)
    total = sum(line.at_min for line in lines)
    assert f"Monthly cost of {env} in us-east-1" in result.stdout
    assert f"{total:,.2f}" in result.stdout.splitlines()[-1]
    for item in ("Fargate chat-api", "NAT gateways", "WAF", "Valkey serverless", "Bedrock tokens"):
        assert item in result.stdout
    assert all(line.at_min > 0 for line in lines if line.item.startswith("Fargate"))


def test_prod_reads_its_own_task_sizes_and_zones():
    inputs = model.load_inputs("prod")
    chat_api = next(t for t in inputs.tasks if t.service == "chat-api")
    assert (chat_api.vcpu, chat_api.memory_gb) == (1.0, 2.0)
    assert chat_api.max_count > chat_api.min_count >= 2
    assert inputs.zones == 3 and model.load_inputs("dev").zones == 2


def test_an_unknown_environment_stops_with_one_line():
    result = subprocess.run(
        [sys.executable, "-m", "cost", "qa"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT / "scripts")},
    )
    assert result.returncode != 0
    assert "ENV=qa is not one of: dev, staging, prod" in result.stderr


def test_backup_copies_follow_the_plan_in_cdk():
    source = (ROOT / "cdk" / "backup" / "infrastructure.py").read_text()
    assert f"DAILY_DAYS_MAX = {model.DAILY_BACKUP_DAYS_MAX}" in source
