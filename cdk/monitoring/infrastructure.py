"""The operators' view: one dashboard, alarms to an encrypted SNS topic with the configured
e-mail, and the Route 53 health check of the public API."""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_budgets as budgets
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_route53 as route53
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

HEALTH_PATH = "/api/v1/health"
FIVE_MINUTES = cdk.Duration.minutes(5)
ONE_HOUR = cdk.Duration.hours(1)
ONE_MINUTE = cdk.Duration.minutes(1)


def _metrics_of(
    namespace: str,
    dimension: str,
    value: str,
    *,
    statistic: str = "Sum",
    period: cdk.Duration = ONE_MINUTE,
):
    """A factory of one resource's metrics (`dimension` = `value` in `namespace`), with the
    statistic and period most of its alarms and graphs use; either can be given per metric."""

    def metric(
        name: str, statistic: str = statistic, period: cdk.Duration = period
    ) -> cloudwatch.Metric:
        return cloudwatch.Metric(
            namespace=namespace,
            metric_name=name,
            dimensions_map={dimension: value},
            statistic=statistic,
            period=period,
        )

    return metric


class Monitoring(Construct):
    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        name_prefix: str,
        alarm_email: str,
        topic_key: kms.IKey,
        api_domain_name: str,
        load_balancer_full_name: str,
        cluster_name: str,
        feedback_queue: sqs.IQueue,
        feedback_dead_letter_queue: sqs.IQueue,
        bedrock_model_id: str,
        functions: Sequence[lambda_.IFunction],
        p99_latency_seconds: float,
        error_rate_percent: float,
        monthly_budget_usd: int,
        input_tokens_per_hour: int,
        output_tokens_per_hour: int,
    ) -> None:
        super().__init__(scope, id_)
        self.topic = sns.Topic(
            self,
            "AlarmTopic",
            topic_name=f"{name_prefix}-alarms",
            display_name=f"{name_prefix} alarms",
            master_key=topic_key,
            enforce_ssl=True,
        )
        self.topic.add_subscription(subscriptions.EmailSubscription(alarm_email))
        notify = actions.SnsAction(self.topic)
        self._add_budget(name_prefix, alarm_email, topic_key, monthly_budget_usd)

        self.health_check = route53.CfnHealthCheck(
            self,
            "ApiHealthCheck",
            health_check_config=route53.CfnHealthCheck.HealthCheckConfigProperty(
                type="HTTPS",
                fully_qualified_domain_name=api_domain_name,
                port=443,
                resource_path=HEALTH_PATH,
                enable_sni=True,
                request_interval=30,
                failure_threshold=3,
            ),
            health_check_tags=[
                route53.CfnHealthCheck.HealthCheckTagProperty(
                    key="Name", value=f"{name_prefix}-api-health"
                )
            ],
        )

        alb = _metrics_of("AWS/ApplicationELB", "LoadBalancer", load_balancer_full_name)
        ecs = _metrics_of(
            "AWS/ECS", "ClusterName", cluster_name, statistic="Average", period=FIVE_MINUTES
        )
        bedrock = _metrics_of("AWS/Bedrock", "ModelId", bedrock_model_id, period=FIVE_MINUTES)
        input_tokens = bedrock("InputTokenCount", period=ONE_HOUR)
        output_tokens = bedrock("OutputTokenCount", period=ONE_HOUR)

        requests = alb("RequestCount")
        error_rate = cloudwatch.MathExpression(
            label="5xx rate (%)",
            expression="100 * (target5xx + elb5xx) / MAX([requests, 1])",
            using_metrics={
                "target5xx": alb("HTTPCode_Target_5XX_Count").with_(period=FIVE_MINUTES),
                "elb5xx": alb("HTTPCode_ELB_5XX_Count").with_(period=FIVE_MINUTES),
                "requests": requests.with_(period=FIVE_MINUTES),
            },
            period=FIVE_MINUTES,
        )
        p50 = alb("TargetResponseTime", "p50")
        p99 = alb("TargetResponseTime", "p99")
        # Unhealthy hosts are published per target group, and Copilot names the service's
        # target group itself: a Metrics Insights query covers every group of this ALB.
        unhealthy = cloudwatch.MathExpression(
            label="Unhealthy targets",
            # A CloudWatch Metrics Insights query over metrics, not SQL sent to a database.
            expression=(
                'SELECT MAX(UnHealthyHostCount) FROM SCHEMA("AWS/ApplicationELB", '  # noqa: S608
                f"LoadBalancer, TargetGroup) WHERE LoadBalancer = '{load_balancer_full_name}'"
            ),
            using_metrics={},
            period=ONE_MINUTE,
        )
        queue_age = feedback_queue.metric_approximate_age_of_oldest_message(period=FIVE_MINUTES)
        dlq_depth = feedback_dead_letter_queue.metric_approximate_number_of_messages_visible(
            period=ONE_MINUTE, statistic="Maximum"
        )
        health = cloudwatch.Metric(
            namespace="AWS/Route53",
            metric_name="HealthCheckStatus",
            dimensions_map={"HealthCheckId": self.health_check.attr_health_check_id},
            statistic="Minimum",
            period=ONE_MINUTE,
            region="us-east-1",  # Route 53 publishes health-check metrics there only
        )

        alarms: list[cloudwatch.Alarm] = []

        above = cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD
        not_breaching = cloudwatch.TreatMissingData.NOT_BREACHING

        def alarm(
            id_: str,
            metric: cloudwatch.IMetric,
            description: str,
            *,
            comparison_operator: cloudwatch.ComparisonOperator = above,
            # Most of these metrics are only published when something happens (an error, a
            # throttle): no data is the healthy state. None keeps CloudWatch's own default.
            treat_missing_data: cloudwatch.TreatMissingData | None = not_breaching,
            **kwargs,
        ) -> None:
            created = cloudwatch.Alarm(
                self,
                id_,
                alarm_name=f"{name_prefix}-{id_}",
                alarm_description=description,
                metric=metric,
                comparison_operator=comparison_operator,
                treat_missing_data=treat_missing_data,
                **kwargs,
            )
            created.add_alarm_action(notify)
            created.add_ok_action(notify)
            alarms.append(created)

        alarm(
            "api-5xx-rate",
            error_rate,
            f"More than {error_rate_percent}% of API requests failed with a 5xx",
            threshold=error_rate_percent,
            evaluation_periods=3,
            datapoints_to_alarm=2,
        )
        alarm(
            "api-p99-latency",
            p99.with_(period=FIVE_MINUTES),
            f"p99 target response time above {p99_latency_seconds} s (streams included)",
            threshold=p99_latency_seconds,
            evaluation_periods=3,
            datapoints_to_alarm=2,
        )
        alarm(
            "api-unhealthy-targets",
            unhealthy,
            "A target of the load balancer fails its health check",
            threshold=0,
            evaluation_periods=3,
        )
        alarm(
            "api-health-check",
            health,
            f"https://{api_domain_name}{HEALTH_PATH} is failing from Route 53's checkers",
            threshold=1,
            comparison_operator=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
            evaluation_periods=2,
            treat_missing_data=cloudwatch.TreatMissingData.BREACHING,
        )
        alarm(
            "ecs-cpu",
            ecs("CPUUtilization"),
            "Cluster CPU above 80%",
            threshold=80,
            evaluation_periods=3,
            treat_missing_data=None,
        )
        alarm(
            "ecs-memory",
            ecs("MemoryUtilization"),
            "Cluster memory above 80%",
            threshold=80,
            evaluation_periods=3,
            treat_missing_data=None,
        )
        alarm(
            "feedback-dlq-not-empty",
            dlq_depth,
            "Feedback messages failed 5 times and wait in the dead-letter queue",
            threshold=0,
            evaluation_periods=1,
        )
        alarm(
            "bedrock-throttling",
            bedrock("InvocationThrottles"),
            "Bedrock throttles the chat model",
            threshold=0,
            evaluation_periods=2,
        )
        # Cost: tokens are what Bedrock bills; a loop or an abusive client shows here first.
        alarm(
            "bedrock-input-tokens",
            input_tokens,
            f"More than {input_tokens_per_hour} Bedrock input tokens in an hour",
            threshold=input_tokens_per_hour,
            evaluation_periods=1,
        )
        alarm(
            "bedrock-output-tokens",
            output_tokens,
            f"More than {output_tokens_per_hour} Bedrock output tokens in an hour",
            threshold=output_tokens_per_hour,
            evaluation_periods=1,
        )
        for function in functions:
            alarm(
                f"lambda-errors-{function.node.id}",
                function.metric_errors(period=FIVE_MINUTES),
                f"The {function.node.id} function raised errors",
                threshold=0,
                evaluation_periods=1,
            )
        self.alarms = alarms

        self.dashboard = cloudwatch.Dashboard(
            self,
            "Dashboard",
            dashboard_name=f"{name_prefix}-operations",
            default_interval=cdk.Duration.hours(3),
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(title="ALB requests", left=[requests], width=8),
            cloudwatch.GraphWidget(
                title="ALB 4xx / 5xx",
                left=[
                    alb("HTTPCode_Target_4XX_Count"),
                    alb("HTTPCode_Target_5XX_Count"),
                    alb("HTTPCode_ELB_5XX_Count"),
                ],
                right=[error_rate],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Target response time p50 / p99", left=[p50, p99], width=8
            ),
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="ECS CPU / memory (%)",
                left=[ecs("CPUUtilization"), ecs("MemoryUtilization")],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Bedrock invocations / throttles",
                left=[bedrock("Invocations"), bedrock("InvocationThrottles")],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Bedrock tokens per hour (input / output)",
                left=[input_tokens, output_tokens],
                left_annotations=[
                    cloudwatch.HorizontalAnnotation(
                        value=input_tokens_per_hour, label="input alarm"
                    ),
                    cloudwatch.HorizontalAnnotation(
                        value=output_tokens_per_hour, label="output alarm"
                    ),
                ],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Bedrock latency (ms)",
                left=[bedrock("InvocationLatency", "p50"), bedrock("InvocationLatency", "p99")],
                width=8,
            ),
        )
        function_widgets: list[cloudwatch.IWidget] = [
            cloudwatch.GraphWidget(
                title="Feedback queue age (s) / DLQ depth",
                left=[queue_age],
                right=[dlq_depth],
                width=8,
            )
        ]
        if functions:
            function_widgets += [
                cloudwatch.GraphWidget(
                    title="Lambda errors",
                    left=[f.metric_errors(period=FIVE_MINUTES) for f in functions],
                    width=8,
                ),
                cloudwatch.GraphWidget(
                    title="Lambda duration p99 (ms)",
                    left=[
                        f.metric_duration(period=FIVE_MINUTES, statistic="p99") for f in functions
                    ],
                    width=8,
                ),
            ]
        self.dashboard.add_widgets(*function_widgets)
        self.dashboard.add_widgets(
            cloudwatch.AlarmStatusWidget(title="Alarms", alarms=alarms, width=24)
        )

    def _add_budget(
        self, name_prefix: str, alarm_email: str, topic_key: kms.IKey, monthly_usd: int
    ) -> None:
        """The AWS Budget of the environment's account (one account per environment): e-mail
        and the alarm topic at 80% of the actual cost and at 100% of the forecast."""
        # AWS Budgets publishes to the encrypted topic: the topic and its key must let it.
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AwsBudgetsPublish",
                principals=[iam.ServicePrincipal("budgets.amazonaws.com")],
                actions=["sns:Publish"],
                resources=[self.topic.topic_arn],
                conditions={"StringEquals": {"aws:SourceAccount": cdk.Stack.of(self).account}},
            )
        )
        topic_key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AwsBudgetsPublish",
                principals=[iam.ServicePrincipal("budgets.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],  # in a key policy, "*" means this key
                conditions={"StringEquals": {"aws:SourceAccount": cdk.Stack.of(self).account}},
            )
        )
        subscribers = [
            budgets.CfnBudget.SubscriberProperty(subscription_type="EMAIL", address=alarm_email),
            budgets.CfnBudget.SubscriberProperty(
                subscription_type="SNS", address=self.topic.topic_arn
            ),
        ]
        self.budget = budgets.CfnBudget(
            self,
            "Budget",
            budget=budgets.CfnBudget.BudgetDataProperty(
                budget_name=f"{name_prefix}-monthly",
                budget_type="COST",
                time_unit="MONTHLY",
                budget_limit=budgets.CfnBudget.SpendProperty(amount=monthly_usd, unit="USD"),
            ),
            notifications_with_subscribers=[
                budgets.CfnBudget.NotificationWithSubscribersProperty(
                    notification=budgets.CfnBudget.NotificationProperty(
                        notification_type=kind,
                        comparison_operator="GREATER_THAN",
                        threshold=percent,
                        threshold_type="PERCENTAGE",
                    ),
                    subscribers=subscribers,
                )
                for kind, percent in (("ACTUAL", 80), ("FORECASTED", 100))
            ],
        )
        # The topic policy must exist before Budgets checks that it may publish.
        policy = self.topic.node.try_find_child("Policy")
        if policy is not None:
            self.budget.node.add_dependency(policy)
