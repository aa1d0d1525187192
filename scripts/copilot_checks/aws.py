"""Seed moto's HTTPS proxy with the records the Copilot CLI reads before it renders.

Copilot keeps its application model in SSM parameters under /copilot/applications, in the
application's stack set `<app>-infrastructure` and in one stack per environment `<app>-<env>`.
`seed_application` writes the first two; `seed_environment` creates an environment stack whose
outputs (and exports) are the ones Copilot's own environment template declares, with made-up
values.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import yaml

from chatbot_common import aws

# Template versions the Copilot 1.34 binary writes itself; records claiming a newer version
# would make it ask for --allow-downgrade.
APP_TEMPLATE_VERSION = "v1.2.0"
ENV_TEMPLATE_VERSION = "v1.34.1"
ENVIRONMENT_FEATURE_PARAMETERS = (
    "ALBWorkloads",
    "InternalALBWorkloads",
    "EFSWorkloads",
    "NATWorkloads",
    "Aliases",
    "AppRunnerPrivateWorkloads",
)
SERVICE_TYPE = "Load Balanced Web Service"
# Outputs of Copilot's environment template exported under another name than their own.
EXPORT_NAMES = {
    "PublicLoadBalancerDNSName": "PublicLoadBalancerDNS",
    "PublicLoadBalancerHostedZone": "CanonicalHostedZoneID",
}
# moto's default account, which its STS answers for any credentials.
ACCOUNT = "123456789012"
CREDENTIALS = aws.LOCAL_CREDENTIALS_ENV


@dataclass(frozen=True)
class Proxy:
    """How to reach AWS through the proxy: the proxy URL and the CA certificate to trust."""

    url: str
    ca_bundle: str
    region: str

    def environ(self) -> dict[str, str]:
        """Variables for a child process (the Copilot CLI) that must use the proxy."""
        return {
            "HTTPS_PROXY": self.url,
            "HTTP_PROXY": self.url,
            "AWS_CA_BUNDLE": self.ca_bundle,
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            **CREDENTIALS,
        }

    def client(self, service: str):
        return aws.client(
            service,
            region=self.region,
            local=True,
            verify=self.ca_bundle,
            attempts=2,  # one retry, as before: the proxy may drop a connection under load
            proxies={"https": self.url},
        )


def pipeline_bucket(app: str) -> str:
    """The application's artifact bucket as the rendering names it (AWS gives it a random name)."""
    return f"{app}-pipeline-bucket"


def artifact_key_arn(region: str) -> str:
    return f"arn:aws:kms:{region}:{ACCOUNT}:key/offline"


def _put(ssm, name: str, value: dict) -> None:
    ssm.put_parameter(Name=name, Value=json.dumps(value), Type="String", Overwrite=True)


def seed_application(
    proxy: Proxy, app: str, environments: list[str], services: list[str], prod: set[str]
) -> None:
    """The application, its environments and services as `copilot app/env/svc init` record
    them, and the application's stack set with one instance in this account and region."""
    ssm = proxy.client("ssm")
    _put(
        ssm,
        f"/copilot/applications/{app}",
        {"name": app, "account": ACCOUNT, "domain": "", "version": APP_TEMPLATE_VERSION},
    )
    for env in environments:
        _put(
            ssm,
            f"/copilot/applications/{app}/environments/{env}",
            {
                "app": app,
                "name": env,
                "region": proxy.region,
                "accountID": ACCOUNT,
                "prod": env in prod,
                "registryURL": "",
                "executionRoleARN": f"arn:aws:iam::{ACCOUNT}:role/{app}-{env}-CFNExecutionRole",
                "managerRoleARN": f"arn:aws:iam::{ACCOUNT}:role/{app}-{env}-EnvManagerRole",
            },
        )
    for service in services:
        _put(
            ssm,
            f"/copilot/applications/{app}/components/{service}",
            {"app": app, "name": service, "type": SERVICE_TYPE},
        )

    outputs = {
        "PipelineBucket": {"Value": pipeline_bucket(app)},
        "KMSKeyARN": {"Value": artifact_key_arn(proxy.region)},
    }
    for service in services:
        logical = "ECRRepo" + service.replace("-", "x2D")
        outputs[logical] = {
            "Value": f"arn:aws:ecr:{proxy.region}:{ACCOUNT}:repository/{app}/{service}"
        }
    template = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Metadata": {
            "TemplateVersion": APP_TEMPLATE_VERSION,
            "Version": 1,
            "Services": services,
            "Workloads": [{"Name": s, "WithECR": True} for s in services],
            "Accounts": [ACCOUNT],
        },
        "Resources": {"Placeholder": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
        "Outputs": outputs,
    }
    cloudformation = proxy.client("cloudformation")
    stack_set = f"{app}-infrastructure"
    cloudformation.create_stack_set(
        StackSetName=stack_set,
        TemplateBody=yaml.safe_dump(template),
        Tags=[{"Key": "copilot-application", "Value": app}],
    )
    cloudformation.create_stack_instances(
        StackSetName=stack_set, Accounts=[ACCOUNT], Regions=[proxy.region]
    )


def seed_environment(proxy: Proxy, app: str, env: str, manifest: str) -> None:
    """The environment's stack, as `copilot env deploy` leaves it: the outputs of Copilot's
    environment template (exported as `<stack>-<output>`), tagged, with the metadata Copilot
    reads back (template version, the manifest it was deployed with)."""
    stack = f"{app}-{env}"
    outputs = {
        name: {"Value": value, "Export": {"Name": f"{stack}-{EXPORT_NAMES.get(name, name)}"}}
        for name, value in environment_outputs(app, env, proxy.region).items()
    }
    template = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Metadata": {"Version": ENV_TEMPLATE_VERSION, "Manifest": manifest},
        # Copilot tells the environment's features (ALB, NAT, aliases, ...) by the
        # parameters of its deployed template.
        "Parameters": {
            name: {"Type": "String", "Default": ""} for name in ENVIRONMENT_FEATURE_PARAMETERS
        },
        "Resources": {"Placeholder": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
        "Outputs": outputs,
    }
    proxy.client("cloudformation").create_stack(
        StackName=stack,
        TemplateBody=yaml.safe_dump(template),
        Tags=[
            {"Key": "copilot-application", "Value": app},
            {"Key": "copilot-environment", "Value": env},
        ],
    )


def environment_outputs(app: str, env: str, region: str) -> dict[str, str]:
    """Values of the right shape for the outputs of a Copilot environment stack."""
    arn = f"arn:aws:elasticloadbalancing:{region}:{ACCOUNT}"
    values = {
        "VpcId": "vpc-0offline",
        "PublicSubnets": "subnet-0public1,subnet-0public2",
        "PrivateSubnets": "subnet-0private1,subnet-0private2",
        "InternetGatewayID": "igw-0offline",
        "PublicRouteTableID": "rtb-0public",
        "PrivateRouteTableIDs": "rtb-0private1,rtb-0private2",
        "EnvironmentSecurityGroup": "sg-0offline",
        "ClusterId": f"{app}-{env}-Cluster",
        "ServiceDiscoveryNamespaceID": "ns-offline",
        "PublicLoadBalancerDNSName": f"{app}-{env}.{region}.elb.amazonaws.com",
        "PublicLoadBalancerFullName": f"app/{app}-{env}/0123456789abcdef",
        "PublicLoadBalancerArn": f"{arn}:loadbalancer/app/{app}-{env}/0123456789abcdef",
        "PublicLoadBalancerHostedZone": "Z35SXDOTRQ7X7K",
        "HTTPListenerArn": f"{arn}:listener/app/{app}-{env}/0123456789abcdef/0a",
        "HTTPSListenerArn": f"{arn}:listener/app/{app}-{env}/0123456789abcdef/0b",
        "DefaultHTTPTargetGroupArn": f"{arn}:targetgroup/{app}-{env}-default/0123456789abcdef",
        "EnvironmentManagerRoleARN": f"arn:aws:iam::{ACCOUNT}:role/{app}-{env}-EnvManagerRole",
        "CFNExecutionRoleARN": f"arn:aws:iam::{ACCOUNT}:role/{app}-{env}-CFNExecutionRole",
        "EnabledFeatures": "",
        "LastForceDeployID": "",
    }
    return values


def import_certificate(proxy: Proxy, domain: str) -> str:
    """An ACM certificate for `domain` (Copilot checks aliases against imported certificates)."""
    acm = proxy.client("acm")
    arn = acm.request_certificate(DomainName=domain, ValidationMethod="DNS")["CertificateArn"]
    return arn
