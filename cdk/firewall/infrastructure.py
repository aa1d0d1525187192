"""The regional WAF web ACL in front of the Copilot load balancer, with its logs."""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

CORE_RULE_SET = "AWSManagedRulesCommonRuleSet"
MANAGED_RULE_GROUPS = (
    CORE_RULE_SET,
    "AWSManagedRulesKnownBadInputsRuleSet",
    "AWSManagedRulesAmazonIpReputationList",
)
# The core rule set's body rules, and the label each one adds to a request it matches. A chat
# message is free text: people paste code, markup and paths ("<script>", "../../"), and a
# 4,000-character message in Chinese or Japanese is about 12 KB of UTF-8, above the 8 KB of
# SizeRestrictions_BODY, while the chat API accepts 32 KB and treats the text as data. On the
# chat endpoints these rules only count; everywhere else a label they add blocks the request.
CORE_BODY_RULES = {
    "SizeRestrictions_BODY": "awswaf:managed:aws:core-rule-set:SizeRestrictions_Body",
    "CrossSiteScripting_BODY": "awswaf:managed:aws:core-rule-set:CrossSiteScripting_Body",
    "GenericLFI_BODY": "awswaf:managed:aws:core-rule-set:GenericLFI_Body",
    "GenericRFI_BODY": "awswaf:managed:aws:core-rule-set:GenericRFI_Body",
}
# The web-ui backend's paths on the API host (copilot/web-ui/manifest.yml).
WEB_UI_PATHS = ("/_event", "/_upload")
# The chat API's message endpoints (chat-api/chat_api/routes/chat.py), matched exactly.
CHAT_ENDPOINTS = ("/api/v1/chat", "/api/v1/chat/stream")


def _visibility(name: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
    return wafv2.CfnWebACL.VisibilityConfigProperty(
        cloud_watch_metrics_enabled=True, metric_name=name, sampled_requests_enabled=True
    )


def _label(key: str) -> wafv2.CfnWebACL.StatementProperty:
    return wafv2.CfnWebACL.StatementProperty(
        label_match_statement=wafv2.CfnWebACL.LabelMatchStatementProperty(scope="LABEL", key=key)
    )


def _path_is(path: str) -> wafv2.CfnWebACL.StatementProperty:
    return wafv2.CfnWebACL.StatementProperty(
        byte_match_statement=wafv2.CfnWebACL.ByteMatchStatementProperty(
            field_to_match=wafv2.CfnWebACL.FieldToMatchProperty(uri_path={}),
            positional_constraint="EXACTLY",
            search_string=path,
            text_transformations=[
                wafv2.CfnWebACL.TextTransformationProperty(priority=0, type="NONE")
            ],
        )
    )


def _path_starts_with(prefix: str) -> wafv2.CfnWebACL.StatementProperty:
    return wafv2.CfnWebACL.StatementProperty(
        byte_match_statement=wafv2.CfnWebACL.ByteMatchStatementProperty(
            field_to_match=wafv2.CfnWebACL.FieldToMatchProperty(uri_path={}),
            positional_constraint="STARTS_WITH",
            search_string=prefix,
            text_transformations=[
                wafv2.CfnWebACL.TextTransformationProperty(priority=0, type="NONE")
            ],
        )
    )


def _any(*statements: wafv2.CfnWebACL.StatementProperty) -> wafv2.CfnWebACL.StatementProperty:
    if len(statements) == 1:
        return statements[0]
    return wafv2.CfnWebACL.StatementProperty(
        or_statement=wafv2.CfnWebACL.OrStatementProperty(statements=list(statements))
    )


def _all(*statements: wafv2.CfnWebACL.StatementProperty) -> wafv2.CfnWebACL.StatementProperty:
    return wafv2.CfnWebACL.StatementProperty(
        and_statement=wafv2.CfnWebACL.AndStatementProperty(statements=list(statements))
    )


class WebFirewall(Construct):
    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        name_prefix: str,
        load_balancer_arn: str,
        rate_limit_per_5_minutes: int,
        geo_block_countries: Sequence[str],
        blocked_ip_cidrs: Sequence[str],
        log_retention: logs.RetentionDays,
        log_key: kms.IKey,
    ) -> None:
        super().__init__(scope, id_)
        self.blocked_ips = wafv2.CfnIPSet(
            self,
            "BlockedIps",
            name=f"{name_prefix}-blocked-ips",
            scope="REGIONAL",
            ip_address_version="IPV4",
            addresses=list(blocked_ip_cidrs),
            description="Addresses blocked by an operator, from cdk.json",
        )
        rules: list[wafv2.CfnWebACL.RuleProperty] = [
            wafv2.CfnWebACL.RuleProperty(
                name="BlockedIps",
                priority=0,
                action=wafv2.CfnWebACL.RuleActionProperty(block={}),
                statement=wafv2.CfnWebACL.StatementProperty(
                    ip_set_reference_statement=wafv2.CfnWebACL.IPSetReferenceStatementProperty(
                        arn=self.blocked_ips.attr_arn
                    )
                ),
                visibility_config=_visibility("BlockedIps"),
            )
        ]
        if geo_block_countries:
            rules.append(
                wafv2.CfnWebACL.RuleProperty(
                    name="GeoBlock",
                    priority=1,
                    action=wafv2.CfnWebACL.RuleActionProperty(block={}),
                    statement=wafv2.CfnWebACL.StatementProperty(
                        geo_match_statement=wafv2.CfnWebACL.GeoMatchStatementProperty(
                            country_codes=list(geo_block_countries)
                        )
                    ),
                    visibility_config=_visibility("GeoBlock"),
                )
            )
        for priority, group in enumerate(MANAGED_RULE_GROUPS, start=10):
            overrides = None
            if group == CORE_RULE_SET:
                overrides = [
                    wafv2.CfnWebACL.RuleActionOverrideProperty(
                        name=rule, action_to_use=wafv2.CfnWebACL.RuleActionProperty(count={})
                    )
                    for rule in CORE_BODY_RULES
                ]
            rules.append(
                wafv2.CfnWebACL.RuleProperty(
                    name=group,
                    priority=priority,
                    override_action=wafv2.CfnWebACL.OverrideActionProperty(none={}),
                    statement=wafv2.CfnWebACL.StatementProperty(
                        managed_rule_group_statement=wafv2.CfnWebACL.ManagedRuleGroupStatementProperty(
                            vendor_name="AWS", name=group, rule_action_overrides=overrides
                        )
                    ),
                    visibility_config=_visibility(group),
                )
            )
        rules.append(
            wafv2.CfnWebACL.RuleProperty(
                name="CoreBodyRulesOutsideChat",
                priority=15,
                action=wafv2.CfnWebACL.RuleActionProperty(block={}),
                statement=_all(
                    _any(*(_label(label) for label in CORE_BODY_RULES.values())),
                    wafv2.CfnWebACL.StatementProperty(
                        not_statement=wafv2.CfnWebACL.NotStatementProperty(
                            statement=_any(*(_path_is(path) for path in CHAT_ENDPOINTS))
                        )
                    ),
                ),
                visibility_config=_visibility("CoreBodyRulesOutsideChat"),
            )
        )
        rules.append(
            wafv2.CfnWebACL.RuleProperty(
                name="ApiRatePerIp",
                priority=20,
                action=wafv2.CfnWebACL.RuleActionProperty(block={}),
                statement=wafv2.CfnWebACL.StatementProperty(
                    rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(
                        aggregate_key_type="IP",
                        limit=rate_limit_per_5_minutes,
                        evaluation_window_sec=300,
                        scope_down_statement=wafv2.CfnWebACL.StatementProperty(
                            byte_match_statement=wafv2.CfnWebACL.ByteMatchStatementProperty(
                                field_to_match=wafv2.CfnWebACL.FieldToMatchProperty(uri_path={}),
                                positional_constraint="STARTS_WITH",
                                search_string="/api/",
                                text_transformations=[
                                    wafv2.CfnWebACL.TextTransformationProperty(
                                        priority=0, type="NONE"
                                    )
                                ],
                            )
                        ),
                    )
                ),
                visibility_config=_visibility("ApiRatePerIp"),
            )
        )
        # What browsers reach directly on the same host: the web-ui backend's websocket
        # (socket.io's handshake and polling fallback) and uploads. The web app's calls to the
        # chat API stay inside the VPC (Service Connect) and never count here.
        rules.append(
            wafv2.CfnWebACL.RuleProperty(
                name="WebUiRatePerIp",
                priority=21,
                action=wafv2.CfnWebACL.RuleActionProperty(block={}),
                statement=wafv2.CfnWebACL.StatementProperty(
                    rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(
                        aggregate_key_type="IP",
                        limit=rate_limit_per_5_minutes,
                        evaluation_window_sec=300,
                        scope_down_statement=_any(
                            *(_path_starts_with(prefix) for prefix in WEB_UI_PATHS)
                        ),
                    )
                ),
                visibility_config=_visibility("WebUiRatePerIp"),
            )
        )
        self.web_acl = wafv2.CfnWebACL(
            self,
            "WebAcl",
            name=f"{name_prefix}-alb",
            scope="REGIONAL",
            default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
            rules=rules,
            visibility_config=_visibility(f"{name_prefix}-alb"),
        )
        wafv2.CfnWebACLAssociation(
            self,
            "LoadBalancerAssociation",
            resource_arn=load_balancer_arn,
            web_acl_arn=self.web_acl.attr_arn,
        )
        # WAF only delivers to log groups whose name starts with aws-waf-logs-.
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            log_group_name=f"aws-waf-logs-{name_prefix}",
            retention=log_retention,
            encryption_key=log_key,
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )
        wafv2.CfnLoggingConfiguration(
            self,
            "Logging",
            resource_arn=self.web_acl.attr_arn,
            log_destination_configs=[
                cdk.Stack.of(self).format_arn(
                    service="logs",
                    resource="log-group",
                    resource_name=self.log_group.log_group_name,
                    arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
                )
            ],
            # Cookies and the Authorization header carry session tokens.
            redacted_fields=[
                wafv2.CfnLoggingConfiguration.FieldToMatchProperty(
                    single_header={"Name": "authorization"}
                ),
                wafv2.CfnLoggingConfiguration.FieldToMatchProperty(
                    single_header={"Name": "cookie"}
                ),
            ],
        )
