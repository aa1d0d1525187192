"""AWS Backup for the DynamoDB tables: a vault under the environment's own KMS key and a plan
with a daily copy kept up to 35 days and, where `backup_retention_days` is longer, a weekly copy
kept that long.

Point-in-time recovery (on every table, storage/) covers the last 35 days to the second; the
plan adds copies that outlive a deleted table and a longer history in staging and prod
(docs/operations.md, "Recovery drills")."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_backup as backup
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from constructs import Construct

import nag
from encryption import rotating_key

# 03:00 UTC daily and 04:00 UTC on Sundays: after the evening peak, apart from each other.
DAILY_SCHEDULE = events.Schedule.cron(minute="0", hour="3")
WEEKLY_SCHEDULE = events.Schedule.cron(minute="0", hour="4", week_day="SUN")
# A job that cannot start within an hour is skipped; it must finish within eight.
START_WINDOW = cdk.Duration.hours(1)
COMPLETION_WINDOW = cdk.Duration.hours(8)
# Daily copies are kept as long as point-in-time recovery reaches back (35 days) at most.
DAILY_DAYS_MAX = 35


def _rule(name: str, schedule: events.Schedule, days: int) -> backup.BackupPlanRule:
    """A backup rule on `schedule` in the plan's start and completion windows, whose recovery
    points are kept for `days`."""
    return backup.BackupPlanRule(
        rule_name=name,
        schedule_expression=schedule,
        start_window=START_WINDOW,
        completion_window=COMPLETION_WINDOW,
        delete_after=cdk.Duration.days(days),
    )


class TableBackups(Construct):
    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        name_prefix: str,
        tables: list[dynamodb.ITable],
        retention_days: int,
        removal_policy: cdk.RemovalPolicy,
    ) -> None:
        super().__init__(scope, id_)
        self.key = rotating_key(
            self,
            "VaultKey",
            description=f"Encrypts the recovery points of {name_prefix}'s tables",
            removal_policy=removal_policy,
        )
        name = f"{name_prefix}-tables"  # of the vault, the plan and the selection alike
        self.vault = backup.BackupVault(
            self,
            "Vault",
            backup_vault_name=name,
            encryption_key=self.key,
            removal_policy=removal_policy,
        )
        self.plan = backup.BackupPlan(self, "Plan", backup_plan_name=name, backup_vault=self.vault)
        self.plan.add_rule(_rule("Daily", DAILY_SCHEDULE, min(retention_days, DAILY_DAYS_MAX)))
        # Beyond PITR's 35 days, one copy a week is enough history: each DynamoDB recovery
        # point is a full copy, so daily copies for 90 days would cost twice as much.
        if retention_days > DAILY_DAYS_MAX:
            self.plan.add_rule(_rule("Weekly", WEEKLY_SCHEDULE, retention_days))
        self.selection = self.plan.add_selection(
            "Tables",
            backup_selection_name=name,
            resources=[backup.BackupResource.from_dynamo_db_table(table) for table in tables],
        )
        nag.acknowledge(
            self.selection.node.find_child("Role"),
            "IAM4",
            "AWS Backup's own service role policy (AWSBackupServiceRolePolicyForBackup) is the "
            "policy AWS maintains for backup jobs; it follows new DynamoDB backup actions "
            "without a change here.",
            finding="Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
            "AWSBackupServiceRolePolicyForBackup",
        )
