"""One typed configuration per environment, read from the `chatbot:environments` context of
`cdk.json`. The account and region are placeholders there; `CHATBOT_<ENV>_ACCOUNT` and
`CHATBOT_<ENV>_REGION` override them (for example `CHATBOT_PROD_ACCOUNT=123456789012`)."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path

from chatbot_common import contract
from chatbot_common.environments import SettingsError

CDK_JSON = Path(__file__).with_name("cdk.json")
CONTEXT_KEY = "chatbot:environments"
_ACCOUNT = re.compile(r"^\d{12}$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")
_DOMAIN = re.compile(r"^([a-z0-9]([a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,}$")
_REPOSITORY = re.compile(r"^[\w.-]+/[\w.-]+$")
_THREAT_MODES = ("AUDIT", "ENFORCED")
_EMAIL_SENDERS = ("COGNITO", "SES")
# Retention values CloudWatch Logs accepts.
_LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1827, 3653)


@dataclass(frozen=True)
class DeniedTopic:
    name: str
    definition: str
    examples: tuple[str, ...] = ()


_PROVIDER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{1,30}[A-Za-z0-9]$")
_PROVIDER_TYPES = ("OIDC", "SAML")


@dataclass(frozen=True)
class EnterpriseProvider:
    """An organisation's identity provider: OpenID Connect (issuer URL, discovered through its
    /.well-known/openid-configuration) or SAML (metadata URL); attribute names for e-mail and
    name as the provider sends them."""

    name: str
    type: str
    metadata_url: str
    email_attribute: str
    name_attribute: str
    client_id: str = ""  # OIDC only; its secret is in Secrets Manager


@dataclass(frozen=True)
class Federation:
    """Sign-in through the managed login on auth.<domain>: Google and, optionally, one
    enterprise provider. The client secrets are in Secrets Manager, never in cdk.json."""

    google_client_id: str
    enterprise: EnterpriseProvider | None = None
    # The managed login's certificate must be in us-east-1: the stack issues it there itself;
    # an environment in another region names one issued in us-east-1 beforehand.
    certificate_arn: str = ""


def _federation(env: str, raw: object) -> Federation | None:
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise _fail(env, "federation", "must be an object")
    google = str(raw.get("google_client_id", ""))
    if not google.endswith(".apps.googleusercontent.com"):
        raise _fail(env, "federation.google_client_id", "is not a Google OAuth client id")
    enterprise = raw.get("enterprise_provider")
    provider = None
    if enterprise is not None:
        key = "federation.enterprise_provider"
        name = str(enterprise.get("name", ""))
        if not _PROVIDER_NAME.match(name) or name in ("Google", "Cognito", "COGNITO"):
            raise _fail(env, f"{key}.name", "must be 3-32 letters, digits or '-' (not Google)")
        kind = str(enterprise.get("type", ""))
        if kind not in _PROVIDER_TYPES:
            raise _fail(env, f"{key}.type", f"must be one of {_PROVIDER_TYPES}")
        url = str(enterprise.get("metadata_url", ""))
        if not url.startswith("https://"):
            raise _fail(env, f"{key}.metadata_url", "must be an https URL")
        attributes = enterprise.get("attributes") or {}
        if not attributes.get("email"):
            raise _fail(env, f"{key}.attributes.email", "missing")
        client_id = str(enterprise.get("client_id", ""))
        if kind == "OIDC" and not client_id:
            raise _fail(env, f"{key}.client_id", "is required for OIDC")
        provider = EnterpriseProvider(
            name=name,
            type=kind,
            metadata_url=url,
            email_attribute=str(attributes["email"]),
            name_attribute=str(attributes.get("name", "name")),
            client_id=client_id,
        )
    certificate_arn = str(raw.get("certificate_arn", ""))
    if certificate_arn and not certificate_arn.startswith("arn:aws:acm:us-east-1:"):
        raise _fail(env, "federation.certificate_arn", "must be an ACM certificate in us-east-1")
    return Federation(google_client_id=google, enterprise=provider, certificate_arn=certificate_arn)


@dataclass(frozen=True)
class EnvironmentConfig:
    name: str
    account: str
    region: str
    domain_name: str
    alarm_email: str
    github_repository: str
    github_branch: str
    create_github_oidc_provider: bool
    bedrock_model_id: str
    web_ui_repository_url: str
    web_ui_branch: str
    # Whether a push to the branch builds the web app (the Amplify branch's auto-build). Off,
    # the deploy starts the build itself once the services it talks to are up
    # (scripts/deploy/ reads the same setting from cdk.json).
    web_ui_auto_build: bool
    cognito_threat_protection: str
    # Who sends Cognito's e-mails: Cognito itself (50 a day, dev) or SES from the domain.
    cognito_email_sender: str
    deletion_protection: bool
    retain_data: bool
    waf_rate_limit_per_5_minutes: int
    waf_geo_block_countries: tuple[str, ...]
    waf_blocked_ip_cidrs: tuple[str, ...]
    log_retention_days: int
    alarm_p99_latency_seconds: float
    alarm_5xx_rate_percent: float
    # Cost: the AWS Budget of the environment's account (USD a month) and the Bedrock token
    # volumes per hour above which the operators are told.
    monthly_budget_usd: int
    alarm_bedrock_input_tokens_per_hour: int
    alarm_bedrock_output_tokens_per_hour: int
    backup_retention_days: int
    guardrail_denied_topics: tuple[DeniedTopic, ...] = field(default_factory=tuple)
    # Federated sign-in (Google, an enterprise provider); None: password sign-in only.
    federation: Federation | None = None

    @property
    def api_domain_name(self) -> str:
        return f"api.{self.domain_name}"

    @property
    def chat_api_url(self) -> str:
        return f"https://{self.api_domain_name}"

    @property
    def auth_domain_name(self) -> str:
        """The managed login's custom domain."""
        return f"auth.{self.domain_name}"

    @property
    def web_app_url(self) -> str:
        return f"https://{self.domain_name}"

    @property
    def prefix(self) -> str:
        """Prefix of physical names: `chatbot-<env>`, as the contract has it."""
        return contract.resource_prefix(self.name)

    @property
    def is_production(self) -> bool:
        return self.name == "prod"


def _fail(env: str, key: str, problem: str) -> SettingsError:
    return SettingsError(f"{CONTEXT_KEY}.{env}.{key}: {problem}")


def from_mapping(
    name: str, raw: Mapping[str, object], environ: Mapping[str, str] | None = None
) -> EnvironmentConfig:
    """Validate one environment's settings; the process environment overrides account/region."""
    environ = os.environ if environ is None else environ
    values = dict(raw)
    for key in ("account", "region"):
        override = environ.get(f"CHATBOT_{name.upper()}_{key.upper()}", "").strip()
        if override:
            values[key] = override
    known = {f.name for f in fields(EnvironmentConfig)} - {"name"}
    unknown = sorted(set(values) - known)
    if unknown:
        raise _fail(name, unknown[0], "unknown setting")
    missing = sorted(known - set(values) - {"guardrail_denied_topics", "federation"})
    if missing:
        raise _fail(name, missing[0], "missing")
    if not _ACCOUNT.match(str(values["account"])):
        raise _fail(name, "account", "must be 12 digits")
    if not _REGION.match(str(values["region"])):
        raise _fail(name, "region", "is not an AWS region name")
    if not _DOMAIN.match(str(values["domain_name"])):
        raise _fail(name, "domain_name", "is not a lower-case domain name")
    if "@" not in str(values["alarm_email"]):
        raise _fail(name, "alarm_email", "is not an e-mail address")
    if not _REPOSITORY.match(str(values["github_repository"])):
        raise _fail(name, "github_repository", "must be <owner>/<name>")
    if not isinstance(values["web_ui_auto_build"], bool):
        raise _fail(name, "web_ui_auto_build", "must be true or false")
    if values["cognito_threat_protection"] not in _THREAT_MODES:
        raise _fail(name, "cognito_threat_protection", f"must be one of {_THREAT_MODES}")
    if name == "prod" and values["cognito_threat_protection"] != "ENFORCED":
        raise _fail(name, "cognito_threat_protection", "must be ENFORCED in prod")
    if values["cognito_email_sender"] not in _EMAIL_SENDERS:
        raise _fail(name, "cognito_email_sender", f"must be one of {_EMAIL_SENDERS}")
    if name in ("staging", "prod") and values["cognito_email_sender"] != "SES":
        raise _fail(name, "cognito_email_sender", f"must be SES in {name}")
    if name in ("staging", "prod") and not values["deletion_protection"]:
        raise _fail(name, "deletion_protection", f"must be true in {name}")
    if values["log_retention_days"] not in _LOG_RETENTION_DAYS:
        raise _fail(name, "log_retention_days", f"must be one of {_LOG_RETENTION_DAYS}")
    backup_days = int(values["backup_retention_days"])  # type: ignore[arg-type]
    # AWS Backup deletes a recovery point no sooner than a day; a week is the floor here so that
    # a mistake found after a weekend can still be restored.
    if not 7 <= backup_days <= 36500:
        raise _fail(name, "backup_retention_days", "must be between 7 and 36500 days")
    rate = int(values["waf_rate_limit_per_5_minutes"])  # type: ignore[arg-type]
    if not 10 <= rate <= 2_000_000_000:
        raise _fail(name, "waf_rate_limit_per_5_minutes", "must be between 10 and 2e9 (WAF)")
    for key in (
        "monthly_budget_usd",
        "alarm_bedrock_input_tokens_per_hour",
        "alarm_bedrock_output_tokens_per_hour",
    ):
        if not isinstance(values[key], int) or values[key] <= 0:
            raise _fail(name, key, "must be a positive whole number")
    topics = tuple(
        DeniedTopic(
            name=str(topic["name"]),
            definition=str(topic["definition"]),
            examples=tuple(topic.get("examples", ())),
        )
        for topic in values.get("guardrail_denied_topics", ())  # type: ignore[union-attr]
    )
    federation = _federation(name, values.get("federation"))
    return EnvironmentConfig(
        name=name,
        account=str(values["account"]),
        region=str(values["region"]),
        domain_name=str(values["domain_name"]),
        alarm_email=str(values["alarm_email"]),
        github_repository=str(values["github_repository"]),
        github_branch=str(values["github_branch"]),
        create_github_oidc_provider=bool(values["create_github_oidc_provider"]),
        bedrock_model_id=str(values["bedrock_model_id"]),
        web_ui_repository_url=str(values["web_ui_repository_url"]),
        web_ui_branch=str(values["web_ui_branch"]),
        web_ui_auto_build=values["web_ui_auto_build"],  # type: ignore[arg-type]
        cognito_threat_protection=str(values["cognito_threat_protection"]),
        cognito_email_sender=str(values["cognito_email_sender"]),
        deletion_protection=bool(values["deletion_protection"]),
        retain_data=bool(values["retain_data"]),
        waf_rate_limit_per_5_minutes=rate,
        waf_geo_block_countries=tuple(values["waf_geo_block_countries"]),  # type: ignore[arg-type]
        waf_blocked_ip_cidrs=tuple(values["waf_blocked_ip_cidrs"]),  # type: ignore[arg-type]
        log_retention_days=int(values["log_retention_days"]),  # type: ignore[arg-type]
        alarm_p99_latency_seconds=float(values["alarm_p99_latency_seconds"]),  # type: ignore[arg-type]
        alarm_5xx_rate_percent=float(values["alarm_5xx_rate_percent"]),  # type: ignore[arg-type]
        monthly_budget_usd=int(values["monthly_budget_usd"]),  # type: ignore[arg-type]
        alarm_bedrock_input_tokens_per_hour=int(values["alarm_bedrock_input_tokens_per_hour"]),  # type: ignore[arg-type]
        alarm_bedrock_output_tokens_per_hour=int(values["alarm_bedrock_output_tokens_per_hour"]),  # type: ignore[arg-type]
        backup_retention_days=backup_days,
        guardrail_denied_topics=topics,
        federation=federation,
    )


def cdk_json_context(path: Path = CDK_JSON) -> dict:
    """The `context` of cdk.json: the CLI passes it to the app; plain `python app.py` reads it."""
    return json.loads(path.read_text()).get("context", {})


def load(name: str, context: Mapping[str, object]) -> EnvironmentConfig:
    environments = context.get(CONTEXT_KEY)
    if not isinstance(environments, Mapping):
        raise SettingsError(f"context {CONTEXT_KEY!r} is missing (cdk.json)")
    if name not in environments:
        raise SettingsError(
            f"unknown environment {name!r}; expected one of {', '.join(sorted(environments))}"
        )
    return from_mapping(name, environments[name])  # type: ignore[arg-type]
