import json

import pytest

import config
import nag_report
from conftest import only, resources_of

RETENTION = {
    env: config.load(env, config.cdk_json_context()).backup_retention_days
    for env in ("dev", "staging", "prod")
}


def _stateful(synthesised, env):
    return synthesised[env].template("PlatformStateful")


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_rules_keep_recovery_points_for_the_configured_days(synthesised, env):
    plan = only(_stateful(synthesised, env), "AWS::Backup::BackupPlan")["Properties"]
    rules = {rule["RuleName"]: rule for rule in plan["BackupPlan"]["BackupPlanRule"]}
    retention = RETENTION[env]
    assert rules["Daily"]["Lifecycle"] == {"DeleteAfterDays": min(retention, 35)}
    if retention > 35:
        assert rules["Weekly"]["Lifecycle"] == {"DeleteAfterDays": retention}
        assert "SUN" in rules["Weekly"]["ScheduleExpression"]
    else:
        assert set(rules) == {"Daily"}
    assert all(rule["ScheduleExpression"].startswith("cron(") for rule in rules.values())
    assert plan["BackupPlan"]["BackupPlanName"] == f"chatbot-{env}-tables"


def test_retention_differs_per_environment_and_prod_keeps_longest():
    assert RETENTION["dev"] < RETENTION["staging"] <= RETENTION["prod"]


def test_selection_covers_every_table_of_the_stack(dev):
    template = dev.template("PlatformStateful")
    table_ids = sorted(resources_of(template, "AWS::DynamoDB::Table"))
    selection = only(template, "AWS::Backup::BackupSelection")["Properties"]["BackupSelection"]
    selected = sorted(
        resource["Fn::GetAtt"][0] for resource in selection["Resources"] if "Fn::GetAtt" in resource
    )
    assert selected == table_ids and len(table_ids) == 3


def test_vault_is_encrypted_with_a_rotated_key_of_its_own(dev):
    template = dev.template("PlatformStateful")
    vault = only(template, "AWS::Backup::BackupVault")
    key_ref = vault["Properties"]["EncryptionKeyArn"]["Fn::GetAtt"][0]
    key = resources_of(template, "AWS::KMS::Key")[key_ref]
    assert key["Properties"]["EnableKeyRotation"] is True
    assert vault["Properties"]["BackupVaultName"] == "chatbot-dev-tables"


def test_vault_and_key_are_retained_where_the_data_is(dev, prod):
    prod_template = prod.template("PlatformStateful")
    prod_template.has_resource("AWS::Backup::BackupVault", {"DeletionPolicy": "Retain"})
    vault = only(prod_template, "AWS::Backup::BackupVault")
    key_ref = vault["Properties"]["EncryptionKeyArn"]["Fn::GetAtt"][0]
    assert resources_of(prod_template, "AWS::KMS::Key")[key_ref]["DeletionPolicy"] == "Retain"
    dev.template("PlatformStateful").has_resource(
        "AWS::Backup::BackupVault", {"DeletionPolicy": "Delete"}
    )


def test_backup_role_is_assumed_by_aws_backup_only(dev):
    template = dev.template("PlatformStateful")
    selection = only(template, "AWS::Backup::BackupSelection")["Properties"]["BackupSelection"]
    role_id = selection["IamRoleArn"]["Fn::GetAtt"][0]
    role = resources_of(template, "AWS::IAM::Role")[role_id]["Properties"]
    statements = role["AssumeRolePolicyDocument"]["Statement"]
    assert [s["Principal"] for s in statements] == [{"Service": "backup.amazonaws.com"}]
    assert "AWSBackupServiceRolePolicyForBackup" in json.dumps(role["ManagedPolicyArns"])


def test_the_only_acknowledgment_is_backups_own_managed_policy(synthesised):
    for synth in synthesised.values():
        acknowledged = [
            ack.rule
            for stack in nag_report.collect(synth.outdir)
            for ack in stack.acknowledgments
            if "/Backups/" in ack.resource
        ]
        assert acknowledged == [
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
            "AWSBackupServiceRolePolicyForBackup]"
        ], synth.env
