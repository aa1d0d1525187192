"""The edge of one environment, deployed after Copilot: the WAF on the Copilot load balancer
(read from the Copilot environment's exports), the api. record and its health check, the
Amplify app on the apex, the dashboard and the alarms. Everything here is stateless."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from constructs import Construct

from chatbot_common import contract
from config import EnvironmentConfig
from dns.infrastructure import alias_record
from encryption import allow_log_groups, rotating_key
from firewall.infrastructure import WebFirewall
from monitoring.infrastructure import Monitoring
from platform_stacks import PlatformStateful, PlatformStateless
from retention import log_retention
from web_ui_hosting.infrastructure import WebUiHosting


class Edge(cdk.Stack):
    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        config: EnvironmentConfig,
        stateful: PlatformStateful,
        platform: PlatformStateless,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, id_, **kwargs)
        self.add_stack_dependency(platform)

        def copilot(output: str) -> str:
            return cdk.Fn.import_value(contract.copilot_export_name(output, config.name))

        # One key for the alarm topic and the WAF logs; the services need it to write.
        self.key = rotating_key(
            self,
            "MonitoringKey",
            alias=f"alias/{config.prefix}-edge",
            description="Encrypts the alarm topic and the WAF log group",
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        allow_log_groups(self.key, "aws-waf-logs-" + config.prefix, describe=True)
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsPublish",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
                conditions={"StringEquals": {"aws:SourceAccount": self.account}},
            )
        )
        retention = log_retention(config.log_retention_days)
        # Copilot's environment stack exports the load balancer's full name ("app/<name>/<id>"),
        # not its ARN; the ARN is the full name under the account's loadbalancer/ prefix.
        load_balancer_arn = self.format_arn(
            service="elasticloadbalancing",
            resource="loadbalancer",
            resource_name=copilot("PublicLoadBalancerFullName"),
            arn_format=cdk.ArnFormat.SLASH_RESOURCE_NAME,
        )

        self.firewall = WebFirewall(
            self,
            "Firewall",
            name_prefix=config.prefix,
            load_balancer_arn=load_balancer_arn,
            rate_limit_per_5_minutes=config.waf_rate_limit_per_5_minutes,
            geo_block_countries=config.waf_geo_block_countries,
            blocked_ip_cidrs=config.waf_blocked_ip_cidrs,
            log_retention=retention,
            log_key=self.key,
        )

        self.api_record = alias_record(
            self,
            "ApiAlias",
            zone=stateful.hosted_zone.zone,
            domain_name=config.api_domain_name,
            target_dns_name=copilot("PublicLoadBalancerDNSName"),
            target_zone_id=copilot("PublicLoadBalancerHostedZone"),
            evaluate_target_health=True,
        )

        pool = stateful.identity
        # Amplify takes a custom certificate only from us-east-1 (CloudFront).
        frontend_certificate = (
            platform.certificates.frontend.certificate_arn if config.region == "us-east-1" else None
        )
        self.frontend = WebUiHosting(
            self,
            "Frontend",
            name_prefix=config.prefix,
            repository_url=config.web_ui_repository_url,
            branch=config.web_ui_branch,
            access_token_secret_name=contract.secret_name("AMPLIFY_GITHUB_TOKEN", config.name),
            domain_name=config.domain_name,
            certificate_arn=frontend_certificate,
            environment_variables={
                "APP_ENV": config.name,
                "CHAT_API_URL": config.chat_api_url,
                # The exported pages open the web-ui backend's websocket here (/_event).
                "REFLEX_API_URL": config.chat_api_url,
                "COGNITO_USER_POOL_ID": pool.user_pool.user_pool_id,
                "COGNITO_APP_CLIENT_ID": pool.client.user_pool_client_id,
                "AWS_REGION": config.region,
            },
            production=config.is_production,
            auto_build=config.web_ui_auto_build,
            backend_origin=config.chat_api_url,
        )

        self.monitoring = Monitoring(
            self,
            "Monitoring",
            name_prefix=config.prefix,
            alarm_email=config.alarm_email,
            topic_key=self.key,
            api_domain_name=config.api_domain_name,
            load_balancer_full_name=copilot("PublicLoadBalancerFullName"),
            cluster_name=copilot("ClusterId"),
            feedback_queue=stateful.feedback.queue,
            feedback_dead_letter_queue=stateful.feedback.dead_letter_queue,
            bedrock_model_id=config.bedrock_model_id,
            functions=platform.functions,
            p99_latency_seconds=config.alarm_p99_latency_seconds,
            error_rate_percent=config.alarm_5xx_rate_percent,
            monthly_budget_usd=config.monthly_budget_usd,
            input_tokens_per_hour=config.alarm_bedrock_input_tokens_per_hour,
            output_tokens_per_hour=config.alarm_bedrock_output_tokens_per_hour,
        )
        # The deploy starts the web app's build on this app where pushes build nothing
        # (scripts/deploy/ looks the export up).
        cdk.CfnOutput(
            self,
            "FrontendAppId",
            value=self.frontend.app.attr_app_id,
            export_name=contract.export_name("FRONTEND_APP_ID", config.name),
            description="FRONTEND_APP_ID: the Amplify app of the web app",
        )
