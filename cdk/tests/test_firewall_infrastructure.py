import aws_cdk as cdk
import pytest
from aws_cdk import assertions

import config
from conftest import only
from firewall.infrastructure import WebFirewall
from retention import log_retention


def _rules(synthesised):
    acl = only(synthesised.template("Edge"), "AWS::WAFv2::WebACL")["Properties"]
    return acl, {rule["Name"]: rule for rule in acl["Rules"]}


def test_web_acl_uses_the_managed_rule_groups(dev):
    acl, rules = _rules(dev)
    assert acl["Scope"] == "REGIONAL"
    assert acl["DefaultAction"] == {"Allow": {}}
    for group in (
        "AWSManagedRulesCommonRuleSet",
        "AWSManagedRulesKnownBadInputsRuleSet",
        "AWSManagedRulesAmazonIpReputationList",
    ):
        statement = rules[group]["Statement"]["ManagedRuleGroupStatement"]
        assert {k: statement[k] for k in ("Name", "VendorName")} == {
            "Name": group,
            "VendorName": "AWS",
        }
        assert rules[group]["OverrideAction"] == {"None": {}}


# The per-address request limit in 5 minutes of each environment (cdk.json).
RATE_LIMITS = {"dev": 1000, "prod": 500}


def _rate_statement(synthesised, rule_name: str) -> dict:
    return _rules(synthesised)[1][rule_name]["Statement"]["RateBasedStatement"]


@pytest.mark.parametrize("env", RATE_LIMITS)
@pytest.mark.parametrize("rule_name", ["ApiRatePerIp", "WebUiRatePerIp"])
def test_rate_rules_block_an_address_over_the_environment_limit(synthesised, env, rule_name):
    rule = _rules(synthesised[env])[1][rule_name]
    assert rule["Action"] == {"Block": {}}
    statement = rule["Statement"]["RateBasedStatement"]
    assert (statement["AggregateKeyType"], statement["Limit"]) == ("IP", RATE_LIMITS[env])


@pytest.mark.parametrize("env", RATE_LIMITS)
def test_api_rate_rule_counts_the_api_path(synthesised, env):
    scope_down = _rate_statement(synthesised[env], "ApiRatePerIp")["ScopeDownStatement"]
    match = scope_down["ByteMatchStatement"]
    assert match["SearchString"] == "/api/"
    assert match["PositionalConstraint"] == "STARTS_WITH"
    assert match["FieldToMatch"] == {"UriPath": {}}


@pytest.mark.parametrize("env", RATE_LIMITS)
def test_web_ui_rate_rule_counts_the_paths_browsers_reach(synthesised, env):
    scope_down = _rate_statement(synthesised[env], "WebUiRatePerIp")["ScopeDownStatement"]
    matches = scope_down["OrStatement"]["Statements"]
    assert {m["ByteMatchStatement"]["SearchString"] for m in matches} == {"/_event", "/_upload"}
    assert {m["ByteMatchStatement"]["PositionalConstraint"] for m in matches} == {"STARTS_WITH"}


def test_ip_block_set_is_always_referenced(dev):
    template = dev.template("Edge")
    ip_set_id = next(iter(template.find_resources("AWS::WAFv2::IPSet")))
    _, rules = _rules(dev)
    assert rules["BlockedIps"]["Statement"]["IPSetReferenceStatement"] == {
        "Arn": {"Fn::GetAtt": [ip_set_id, "Arn"]}
    }
    assert "GeoBlock" not in rules  # no countries configured for dev


def test_geo_block_rule_when_countries_are_configured():
    stack = cdk.Stack(env=cdk.Environment(account="111111111111", region="us-east-1"))
    from aws_cdk import aws_kms as kms

    WebFirewall(
        stack,
        "Firewall",
        name_prefix="chatbot-test",
        load_balancer_arn="arn:aws:elasticloadbalancing:us-east-1:111111111111:loadbalancer/app/x/y",
        rate_limit_per_5_minutes=100,
        geo_block_countries=("KP", "IR"),
        blocked_ip_cidrs=("192.0.2.0/24",),
        log_retention=log_retention(30),
        log_key=kms.Key(stack, "Key", enable_key_rotation=True),
    )
    template = assertions.Template.from_stack(stack)
    acl = only(template, "AWS::WAFv2::WebACL")["Properties"]
    geo = next(rule for rule in acl["Rules"] if rule["Name"] == "GeoBlock")
    assert geo["Statement"]["GeoMatchStatement"]["CountryCodes"] == ["KP", "IR"]
    assert geo["Action"] == {"Block": {}}
    template.has_resource_properties("AWS::WAFv2::IPSet", {"Addresses": ["192.0.2.0/24"]})


def test_acl_is_associated_with_the_copilot_load_balancer(dev):
    association = only(dev.template("Edge"), "AWS::WAFv2::WebACLAssociation")["Properties"]
    # Copilot exports the load balancer's full name, not its ARN: the ARN is built from it.
    (separator, parts) = association["ResourceArn"]["Fn::Join"]
    assert separator == ""
    assert parts == [
        "arn:",
        {"Ref": "AWS::Partition"},
        ":elasticloadbalancing:us-east-1:111111111111:loadbalancer/",
        {"Fn::ImportValue": "chatbot-dev-PublicLoadBalancerFullName"},
    ]


def test_waf_logs_go_to_an_encrypted_log_group_with_retention(dev, prod):
    for synthesised, days in ((dev, 30), (prod, 365)):
        template = synthesised.template("Edge")
        group = only(template, "AWS::Logs::LogGroup")["Properties"]
        assert group["LogGroupName"] == f"aws-waf-logs-chatbot-{synthesised.env}"
        assert group["RetentionInDays"] == days
        assert "KmsKeyId" in group
        logging = only(template, "AWS::WAFv2::LoggingConfiguration")["Properties"]
        assert [f["SingleHeader"]["Name"] for f in logging["RedactedFields"]] == [
            "authorization",
            "cookie",
        ]


def test_log_retention_is_set_on_every_log_group(synthesised):
    for synthesised_env in synthesised.values():
        for stack in ("PlatformStateful", "PlatformStateless", "Edge"):
            groups = synthesised_env.template(stack).find_resources("AWS::Logs::LogGroup")
            assert all("RetentionInDays" in g["Properties"] for g in groups.values())


def test_retention_values_of_the_config_map_to_cdk():
    assert log_retention(365) is not None
    for env in ("dev", "staging", "prod"):
        settings = config.load(env, config.cdk_json_context())
        log_retention(settings.log_retention_days)


# The labels AWS documents for the core rule set's body rules (AWS WAF developer guide,
# "Core rule set (CRS) managed rule group"): what a counted rule leaves on the request.
BODY_RULE_LABELS = {
    "SizeRestrictions_BODY": "awswaf:managed:aws:core-rule-set:SizeRestrictions_Body",
    "CrossSiteScripting_BODY": "awswaf:managed:aws:core-rule-set:CrossSiteScripting_Body",
    "GenericLFI_BODY": "awswaf:managed:aws:core-rule-set:GenericLFI_Body",
    "GenericRFI_BODY": "awswaf:managed:aws:core-rule-set:GenericRFI_Body",
}


def _matches(statement: dict, path: str, labels: set[str]) -> bool:
    """WAF's evaluation of the statement kinds the custom rules use (label, path, and/or/not)."""
    if "LabelMatchStatement" in statement:
        return statement["LabelMatchStatement"]["Key"] in labels
    if "ByteMatchStatement" in statement:
        match = statement["ByteMatchStatement"]
        assert match["FieldToMatch"] == {"UriPath": {}}
        assert [t["Type"] for t in match["TextTransformations"]] == ["NONE"]
        return {
            "EXACTLY": path == match["SearchString"],
            "STARTS_WITH": path.startswith(match["SearchString"]),
        }[match["PositionalConstraint"]]
    if "AndStatement" in statement:
        return all(_matches(s, path, labels) for s in statement["AndStatement"]["Statements"])
    if "OrStatement" in statement:
        return any(_matches(s, path, labels) for s in statement["OrStatement"]["Statements"])
    if "NotStatement" in statement:
        return not _matches(statement["NotStatement"]["Statement"], path, labels)
    raise AssertionError(f"statement kind not modelled: {sorted(statement)}")


def verdict(acl: dict, path: str, core_rules_matched: tuple[str, ...]) -> tuple[str, str | None]:
    """(action, deciding rule) for a request on `path` whose body the core rule set's rules
    `core_rules_matched` match, walking the web ACL's rules in priority order as WAF does.
    Rate, IP and geo rules are left out: they depend on the sender, not the request."""
    labels: set[str] = set()
    for rule in sorted(acl["Rules"], key=lambda r: r["Priority"]):
        statement = rule["Statement"]
        if "ManagedRuleGroupStatement" in statement:
            group = statement["ManagedRuleGroupStatement"]
            if group["Name"] != "AWSManagedRulesCommonRuleSet":
                continue
            overrides = {o["Name"]: o["ActionToUse"] for o in group.get("RuleActionOverrides", [])}
            for name in core_rules_matched:
                labels.add(BODY_RULE_LABELS.get(name, f"awswaf:managed:aws:core-rule-set:{name}"))
                if overrides.get(name, {"Block": {}}) != {"Count": {}}:
                    return "Block", rule["Name"]
            continue
        if {"RateBasedStatement", "IPSetReferenceStatement", "GeoMatchStatement"} & set(statement):
            continue
        if _matches(statement, path, labels) and "Block" in rule["Action"]:
            return "Block", rule["Name"]
    return "Allow", None


CHAT_PATHS = ("/api/v1/chat", "/api/v1/chat/stream")
OTHER_PATHS = ("/api/v1/feedback", "/api/v1/conversations", "/_event/", "/_upload", "/")


def test_core_body_rules_only_count_on_the_chat_endpoints(dev, prod):
    for synthesised in (dev, prod):
        acl, _ = _rules(synthesised)
        for body_rule in BODY_RULE_LABELS:
            for path in CHAT_PATHS:
                assert verdict(acl, path, (body_rule,)) == ("Allow", None), (path, body_rule)
            for path in OTHER_PATHS:
                assert verdict(acl, path, (body_rule,)) == ("Block", "CoreBodyRulesOutsideChat"), (
                    path,
                    body_rule,
                )


def test_every_other_core_rule_still_blocks_on_the_chat_endpoints(prod):
    acl, rules = _rules(prod)
    overridden = rules["AWSManagedRulesCommonRuleSet"]["Statement"]["ManagedRuleGroupStatement"][
        "RuleActionOverrides"
    ]
    assert sorted(o["Name"] for o in overridden) == sorted(BODY_RULE_LABELS)
    for other in ("NoUserAgent_HEADER", "CrossSiteScripting_QUERYARGUMENTS", "GenericLFI_URIPATH"):
        for path in CHAT_PATHS + OTHER_PATHS:
            assert verdict(acl, path, (other,)) == ("Block", "AWSManagedRulesCommonRuleSet")
    assert verdict(acl, "/api/v1/chat", ()) == ("Allow", None)


def test_the_chat_exemption_is_exact_not_a_prefix(prod):
    """A path that only starts like a chat endpoint gets no exemption."""
    acl, _ = _rules(prod)
    for path in ("/api/v1/chatx", "/api/v1/chat/stream/x", "/API/V1/CHAT", "/api/v1/chat/"):
        assert verdict(acl, path, ("CrossSiteScripting_BODY",))[0] == "Block", path
