from conftest import only, resources_of


def _alarms(synthesised):
    alarms = resources_of(synthesised.template("Edge"), "AWS::CloudWatch::Alarm")
    return {a["Properties"]["AlarmName"]: a["Properties"] for a in alarms.values()}


def test_alarms_cover_the_issue_list_and_notify_the_topic(dev):
    alarms = _alarms(dev)
    assert {
        "chatbot-dev-api-5xx-rate",
        "chatbot-dev-api-p99-latency",
        "chatbot-dev-api-unhealthy-targets",
        "chatbot-dev-api-health-check",
        "chatbot-dev-ecs-cpu",
        "chatbot-dev-ecs-memory",
        "chatbot-dev-feedback-dlq-not-empty",
        "chatbot-dev-bedrock-throttling",
    } <= set(alarms)
    topic_id = next(iter(dev.template("Edge").find_resources("AWS::SNS::Topic")))
    for alarm in alarms.values():
        assert alarm["AlarmActions"] == [{"Ref": topic_id}]


def test_thresholds_come_from_the_environment(dev, prod):
    assert _alarms(prod)["chatbot-prod-api-p99-latency"]["Threshold"] == 8
    assert _alarms(dev)["chatbot-dev-api-p99-latency"]["Threshold"] == 10
    assert _alarms(prod)["chatbot-prod-api-5xx-rate"]["Threshold"] == 1


def test_dlq_alarm_fires_on_any_message(dev):
    alarm = _alarms(dev)["chatbot-dev-feedback-dlq-not-empty"]
    assert alarm["Threshold"] == 0
    assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
    assert alarm["MetricName"] == "ApproximateNumberOfMessagesVisible"
    (dimension,) = alarm["Dimensions"]
    assert "FeedbackDeadLetterQueue" in str(dimension["Value"])


def test_topic_is_encrypted_tls_only_and_mails_the_operators(dev):
    template = dev.template("Edge")
    topic = only(template, "AWS::SNS::Topic")["Properties"]
    assert "KmsMasterKeyId" in topic
    template.has_resource_properties(
        "AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": "chatbot-alerts@muykol.com"}
    )
    policy = only(template, "AWS::SNS::TopicPolicy")["Properties"]["PolicyDocument"]
    assert any(
        s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        for s in policy["Statement"]
    )
    key = only(template, "AWS::KMS::Key")["Properties"]
    assert key["EnableKeyRotation"] is True


def test_health_check_probes_the_public_health_endpoint(prod):
    check = only(prod.template("Edge"), "AWS::Route53::HealthCheck")["Properties"]
    assert check["HealthCheckConfig"] == {
        "Type": "HTTPS",
        "FullyQualifiedDomainName": "api.chatbot.muykol.com",
        "Port": 443,
        "ResourcePath": "/api/v1/health",
        "EnableSNI": True,
        "RequestInterval": 30,
        "FailureThreshold": 3,
    }


def test_dashboard_shows_the_operators_metrics(dev):
    dashboard = only(dev.template("Edge"), "AWS::CloudWatch::Dashboard")["Properties"]
    body = str(dashboard["DashboardBody"])
    for metric in (
        "RequestCount",
        "HTTPCode_Target_4XX_Count",
        "HTTPCode_Target_5XX_Count",
        "TargetResponseTime",
        "CPUUtilization",
        "MemoryUtilization",
        "Invocations",
        "InvocationThrottles",
        "InvocationLatency",
        "ApproximateAgeOfOldestMessage",
        "ApproximateNumberOfMessagesVisible",
    ):
        assert metric in body, metric


def test_api_alias_points_at_the_copilot_load_balancer(dev):
    record = only(dev.template("Edge"), "AWS::Route53::RecordSet")["Properties"]
    assert record["Name"] == "api.dev.chatbot.muykol.com."
    assert record["Type"] == "A"
    assert record["AliasTarget"] == {
        "DNSName": {"Fn::ImportValue": "chatbot-dev-PublicLoadBalancerDNS"},
        "HostedZoneId": {"Fn::ImportValue": "chatbot-dev-CanonicalHostedZoneID"},
        "EvaluateTargetHealth": True,
    }


def test_bedrock_tokens_per_hour_and_throttles_alarm_and_are_on_the_dashboard(dev, prod):
    for synthesised, input_limit, output_limit in ((dev, 500000, 100000), (prod, 5000000, 1000000)):
        alarms = _alarms(synthesised)
        prefix = f"chatbot-{synthesised.env}"
        for name, metric, limit in (
            ("bedrock-input-tokens", "InputTokenCount", input_limit),
            ("bedrock-output-tokens", "OutputTokenCount", output_limit),
        ):
            alarm = alarms[f"{prefix}-{name}"]
            assert (alarm["Namespace"], alarm["MetricName"]) == ("AWS/Bedrock", metric)
            assert (alarm["Period"], alarm["Statistic"]) == (3600, "Sum")
            assert alarm["Threshold"] == limit
            assert alarm["Dimensions"] == [
                {"Name": "ModelId", "Value": "anthropic.claude-3-haiku-20240307-v1:0"}
            ]
        throttles = alarms[f"{prefix}-bedrock-throttling"]
        assert throttles["MetricName"] == "InvocationThrottles"
        body = str(only(synthesised.template("Edge"), "AWS::CloudWatch::Dashboard")["Properties"])
        for metric in ("InputTokenCount", "OutputTokenCount", "InvocationThrottles"):
            assert metric in body


def test_a_monthly_budget_notifies_by_mail_and_through_the_alarm_topic(dev, prod):
    for synthesised, limit in ((dev, 50), (prod, 500)):
        template = synthesised.template("Edge")
        budget = only(template, "AWS::Budgets::Budget")["Properties"]
        data = budget["Budget"]
        assert data["BudgetName"] == f"chatbot-{synthesised.env}-monthly"
        assert (data["BudgetType"], data["TimeUnit"]) == ("COST", "MONTHLY")
        assert data["BudgetLimit"] == {"Amount": limit, "Unit": "USD"}
        topic_id = next(iter(template.find_resources("AWS::SNS::Topic")))
        kinds = set()
        for entry in budget["NotificationsWithSubscribers"]:
            kinds.add(
                (entry["Notification"]["NotificationType"], entry["Notification"]["Threshold"])
            )
            assert {s["SubscriptionType"]: s["Address"] for s in entry["Subscribers"]} == {
                "EMAIL": "chatbot-alerts@muykol.com",
                "SNS": {"Ref": topic_id},
            }
        assert kinds == {("ACTUAL", 80), ("FORECASTED", 100)}
        # Budgets may publish to the topic and use its key.
        policy = only(template, "AWS::SNS::TopicPolicy")["Properties"]["PolicyDocument"]
        assert any(
            s.get("Principal") == {"Service": "budgets.amazonaws.com"} and s["Effect"] == "Allow"
            for s in policy["Statement"]
        )
        key_policy = only(template, "AWS::KMS::Key")["Properties"]["KeyPolicy"]
        assert any(
            s.get("Principal") == {"Service": "budgets.amazonaws.com"}
            for s in key_policy["Statement"]
        )
