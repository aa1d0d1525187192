"""The regional WAF web ACL in front of the Copilot load balancer, with its logs."""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

import waf_rules
from encryption import encrypted_log_group

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


def _ip_set(arn: str) -> waf_rules.Statement:
    return waf_rules.Statement(
        ip_set_reference_statement=wafv2.CfnWebACL.IPSetReferenceStatementProperty(arn=arn)
    )


def _countries(codes: Sequence[str]) -> waf_rules.Statement:
    return waf_rules.Statement(
        geo_match_statement=wafv2.CfnWebACL.GeoMatchStatementProperty(country_codes=list(codes))
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
        rules = [waf_rules.block("BlockedIps", 0, _ip_set(self.blocked_ips.attr_arn))]
        if geo_block_countries:
            rules.append(waf_rules.block("GeoBlock", 1, _countries(geo_block_countries)))
        for priority, group in enumerate(MANAGED_RULE_GROUPS, start=10):
            counted = tuple(CORE_BODY_RULES) if group == CORE_RULE_SET else ()
            rules.append(waf_rules.managed_group(group, priority, count_rules=counted))
        outside_chat = waf_rules.not_(
            waf_rules.any_of(*(waf_rules.path_is(path) for path in CHAT_ENDPOINTS))
        )
        body_labels = waf_rules.any_of(*(waf_rules.label(key) for key in CORE_BODY_RULES.values()))
        rules.append(
            waf_rules.block(
                "CoreBodyRulesOutsideChat", 15, waf_rules.all_of(body_labels, outside_chat)
            )
        )
        rules.append(
            waf_rules.rate_per_ip(
                "ApiRatePerIp",
                20,
                limit=rate_limit_per_5_minutes,
                scope_down=waf_rules.path_starts_with("/api/"),
            )
        )
        # What browsers reach directly on the same host: the web-ui backend's websocket
        # (socket.io's handshake and polling fallback) and uploads. The web app's calls to the
        # chat API stay inside the VPC (Service Connect) and never count here.
        rules.append(
            waf_rules.rate_per_ip(
                "WebUiRatePerIp",
                21,
                limit=rate_limit_per_5_minutes,
                scope_down=waf_rules.any_of(
                    *(waf_rules.path_starts_with(prefix) for prefix in WEB_UI_PATHS)
                ),
            )
        )
        self.web_acl = waf_rules.regional_web_acl(
            self,
            name=f"{name_prefix}-alb",
            rules=rules,
            association_id="LoadBalancerAssociation",
            resource_arn=load_balancer_arn,
        )
        # WAF only delivers to log groups whose name starts with aws-waf-logs-.
        self.log_group = encrypted_log_group(
            self,
            "Logs",
            name=f"aws-waf-logs-{name_prefix}",
            retention=log_retention,
            key=log_key,
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
