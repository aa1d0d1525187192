import aws_cdk as cdk
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
        assert statement == {"Name": group, "VendorName": "AWS"}
        assert rules[group]["OverrideAction"] == {"None": {}}


def test_rate_limit_per_ip_applies_to_the_api_path(dev, prod):
    for synthesised, limit in ((dev, 1000), (prod, 500)):
        _, rules = _rules(synthesised)
        rate = rules["ApiRatePerIp"]
        assert rate["Action"] == {"Block": {}}
        statement = rate["Statement"]["RateBasedStatement"]
        assert statement["AggregateKeyType"] == "IP"
        assert statement["Limit"] == limit
        match = statement["ScopeDownStatement"]["ByteMatchStatement"]
        assert match["SearchString"] == "/api/"
        assert match["PositionalConstraint"] == "STARTS_WITH"
        assert match["FieldToMatch"] == {"UriPath": {}}


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
        for stack in ("PlatformStateful", "Platform", "Edge"):
            groups = synthesised_env.template(stack).find_resources("AWS::Logs::LogGroup")
            assert all("RetentionInDays" in g["Properties"] for g in groups.values())


def test_retention_values_of_the_config_map_to_cdk():
    assert log_retention(365) is not None
    for env in ("dev", "staging", "prod"):
        settings = config.load(env, config.cdk_json_context())
        log_retention(settings.log_retention_days)
