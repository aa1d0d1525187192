"""Builders for WAF web ACL rules and statements, shared by the load balancer's web ACL
(firewall/) and the user pool's (identity/), so both write a rule the same way."""

from __future__ import annotations

from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

Statement = wafv2.CfnWebACL.StatementProperty
Rule = wafv2.CfnWebACL.RuleProperty


def visibility(name: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
    """CloudWatch metrics and sampled requests under `name`."""
    return wafv2.CfnWebACL.VisibilityConfigProperty(
        cloud_watch_metrics_enabled=True, metric_name=name, sampled_requests_enabled=True
    )


def byte_match(
    field: wafv2.CfnWebACL.FieldToMatchProperty, constraint: str, value: str
) -> Statement:
    """`field` compared with `value` as it arrives (no text transformation)."""
    return Statement(
        byte_match_statement=wafv2.CfnWebACL.ByteMatchStatementProperty(
            field_to_match=field,
            positional_constraint=constraint,
            search_string=value,
            text_transformations=[
                wafv2.CfnWebACL.TextTransformationProperty(priority=0, type="NONE")
            ],
        )
    )


def path_is(path: str) -> Statement:
    return byte_match(wafv2.CfnWebACL.FieldToMatchProperty(uri_path={}), "EXACTLY", path)


def path_starts_with(prefix: str) -> Statement:
    return byte_match(wafv2.CfnWebACL.FieldToMatchProperty(uri_path={}), "STARTS_WITH", prefix)


def header_is(header: str, value: str) -> Statement:
    field = wafv2.CfnWebACL.FieldToMatchProperty(single_header={"Name": header})
    return byte_match(field, "EXACTLY", value)


def label(key: str) -> Statement:
    return Statement(
        label_match_statement=wafv2.CfnWebACL.LabelMatchStatementProperty(scope="LABEL", key=key)
    )


def any_of(*statements: Statement) -> Statement:
    if len(statements) == 1:
        return statements[0]
    return Statement(or_statement=wafv2.CfnWebACL.OrStatementProperty(statements=list(statements)))


def all_of(*statements: Statement) -> Statement:
    return Statement(
        and_statement=wafv2.CfnWebACL.AndStatementProperty(statements=list(statements))
    )


def not_(statement: Statement) -> Statement:
    return Statement(not_statement=wafv2.CfnWebACL.NotStatementProperty(statement=statement))


def block(name: str, priority: int, statement: Statement) -> Rule:
    """Blocks what `statement` matches; the rule's metrics are named after it."""
    return Rule(
        name=name,
        priority=priority,
        action=wafv2.CfnWebACL.RuleActionProperty(block={}),
        statement=statement,
        visibility_config=visibility(name),
    )


def rate_per_ip(name: str, priority: int, *, limit: int, scope_down: Statement) -> Rule:
    """Blocks an address that sends more than `limit` requests matching `scope_down` in
    5 minutes."""
    return block(
        name,
        priority,
        Statement(
            rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(
                aggregate_key_type="IP",
                limit=limit,
                evaluation_window_sec=300,
                scope_down_statement=scope_down,
            )
        ),
    )


def managed_group(group: str, priority: int, *, count_rules: tuple[str, ...] = ()) -> Rule:
    """An AWS managed rule group as published, except `count_rules`, which only count."""
    overrides = [
        wafv2.CfnWebACL.RuleActionOverrideProperty(
            name=rule, action_to_use=wafv2.CfnWebACL.RuleActionProperty(count={})
        )
        for rule in count_rules
    ]
    return Rule(
        name=group,
        priority=priority,
        override_action=wafv2.CfnWebACL.OverrideActionProperty(none={}),
        statement=Statement(
            managed_rule_group_statement=wafv2.CfnWebACL.ManagedRuleGroupStatementProperty(
                vendor_name="AWS", name=group, rule_action_overrides=overrides or None
            )
        ),
        visibility_config=visibility(group),
    )


def regional_web_acl(
    scope: Construct, *, name: str, rules: list[Rule], association_id: str, resource_arn: str
) -> wafv2.CfnWebACL:
    """The web ACL `WebAcl` in `scope`, allowing what no rule blocks, attached to one regional
    resource (a load balancer, a user pool) by the association `association_id`."""
    web_acl = wafv2.CfnWebACL(
        scope,
        "WebAcl",
        name=name,
        scope="REGIONAL",
        default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
        rules=rules,
        visibility_config=visibility(name),
    )
    wafv2.CfnWebACLAssociation(
        scope, association_id, resource_arn=resource_arn, web_acl_arn=web_acl.attr_arn
    )
    return web_acl
