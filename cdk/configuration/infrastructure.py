"""Publishes the containers' configuration under the contract's names
(common/chatbot_common/contract.json): SSM parameters that Copilot injects as `secrets`, and
CloudFormation exports for `from_cfn`. Each export lives in the stack that owns its value (an
export of an import cannot be removed cleanly later)."""

from __future__ import annotations

from collections.abc import Mapping

import aws_cdk as cdk
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from chatbot_common import contract


class PublishedParameters(Construct):
    """Every contract parameter of one environment; refuses a partial or unknown set."""

    def __init__(
        self, scope: Construct, id_: str, *, environment: str, values: Mapping[str, str]
    ) -> None:
        super().__init__(scope, id_)
        missing = sorted(set(contract.ssm_parameter_keys()) - set(values))
        unknown = sorted(set(values) - set(contract.ssm_parameter_keys()))
        if missing or unknown:
            raise ValueError(
                f"SSM parameters differ from chatbot_common/contract.json: missing {missing}, "
                f"unknown {unknown}"
            )
        self.parameters: dict[str, ssm.StringParameter] = {
            key: ssm.StringParameter(
                self,
                key,
                parameter_name=contract.ssm_parameter_name(key, environment),
                string_value=value,
                description=f"{key} of the chatbot's {environment} environment",
                tier=ssm.ParameterTier.STANDARD,
            )
            for key, value in values.items()
        }


class PublishedExports(Construct):
    """CloudFormation exports named by the contract."""

    def __init__(
        self, scope: Construct, id_: str, *, environment: str, values: Mapping[str, str]
    ) -> None:
        super().__init__(scope, id_)
        unknown = sorted(set(values) - set(contract.export_keys()))
        if unknown:
            raise ValueError(f"exports not in chatbot_common/contract.json: {', '.join(unknown)}")
        self.outputs = {
            key: cdk.CfnOutput(
                self,
                key,
                value=value,
                export_name=contract.export_name(key, environment),
                description=key,
            )
            for key, value in values.items()
        }
