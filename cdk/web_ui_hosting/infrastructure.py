"""The Amplify app serving the Reflex static export on the environment's apex domain."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

import aws_cdk as cdk
from aws_cdk import aws_amplify as amplify
from constructs import Construct

# Amplify builds the Reflex frontend as static files; the web-ui backend runs on Fargate.
BUILD_SPEC = """\
version: 1
frontend:
  phases:
    preBuild:
      commands:
        - python3.11 -m venv /tmp/rx
        - /tmp/rx/bin/pip install -r web-ui/requirements.txt
    build:
      commands:
        - >-
          cd web-ui
          && /tmp/rx/bin/reflex export --frontend-only --no-zip --env prod
          && /tmp/rx/bin/python -m web_ui.security_headers externalize .web/build/client
  artifacts:
    baseDirectory: web-ui/.web/build/client
    files:
      - '**/*'
  cache:
    paths:
      - web-ui/.web/node_modules/**/*
"""


# The web app's security headers: the one set the Reflex server applies too
# (web-ui/web_ui/security_headers.py). Its policy allows no inline script, so the build
# moves the export's inline scripts into files (`externalize`, as `make web-ui-export` does).
SECURITY_HEADERS_FILE = (
    Path(__file__).resolve().parents[2] / "web-ui" / "web_ui" / "security-headers.json"
)


def security_headers(backend_url: str, path: Path = SECURITY_HEADERS_FILE) -> dict[str, str]:
    """The header set of an HTTPS site whose pages talk to `backend_url`: the policy's
    directives joined as 'name value ...; ...', with the backend's origin as https and wss in
    connect-src (the websocket goes to /_event), the plain headers, and the HTTPS-only ones."""
    spec = json.loads(path.read_text())
    directives = {name: list(values) for name, values in spec["content_security_policy"].items()}
    if "connect-src" not in directives:
        raise ValueError(f"{path}: the Content-Security-Policy has no connect-src directive")
    parts = urlsplit(backend_url)
    if parts.scheme != "https" or not parts.netloc:
        raise ValueError(f"{backend_url}: the backend of an HTTPS site must be https")
    for origin in (f"https://{parts.netloc}", f"wss://{parts.netloc}"):
        if origin not in directives["connect-src"]:
            directives["connect-src"].append(origin)
    policy = "; ".join(" ".join([name, *values]) for name, values in directives.items())
    return {"Content-Security-Policy": policy, **spec["headers"], **spec["https_headers"]}


def custom_headers_yaml(headers: Mapping[str, str]) -> str:
    """Amplify's customHeaders document (JSON is YAML) applying `headers` to every path."""
    rules = [
        {
            "pattern": "**",
            "headers": [{"key": key, "value": value} for key, value in headers.items()],
        }
    ]
    return json.dumps({"customHeaders": rules}, indent=2)


class WebUiHosting(Construct):
    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        name_prefix: str,
        repository_url: str,
        branch: str,
        access_token_secret_name: str,
        domain_name: str,
        certificate_arn: str | None,
        environment_variables: Mapping[str, str],
        production: bool,
        auto_build: bool,
        backend_origin: str,
    ) -> None:
        super().__init__(scope, id_)
        self.app = amplify.CfnApp(
            self,
            "App",
            name=f"{name_prefix}-web",
            description="Reflex static export of the chatbot's web app",
            repository=repository_url,
            # A dynamic reference: CloudFormation resolves it at deploy time, the token never
            # appears in the template.
            access_token=cdk.SecretValue.secrets_manager(access_token_secret_name).unsafe_unwrap(),
            platform="WEB",
            build_spec=BUILD_SPEC,
            custom_headers=custom_headers_yaml(security_headers(backend_origin)),
            environment_variables=[
                amplify.CfnApp.EnvironmentVariableProperty(name=key, value=value)
                for key, value in sorted(environment_variables.items())
            ],
            custom_rules=[
                # www and plain HTTP land on the canonical HTTPS apex (HSTS, in the headers,
                # keeps the browser on HTTPS afterwards).
                amplify.CfnApp.CustomRuleProperty(
                    source=f"https://www.{domain_name}",
                    target=f"https://{domain_name}",
                    status="301",
                ),
                amplify.CfnApp.CustomRuleProperty(
                    source=f"http://{domain_name}", target=f"https://{domain_name}", status="301"
                ),
                # Client-side routes of the single-page app.
                amplify.CfnApp.CustomRuleProperty(
                    source="</^[^.]+$|\\.(?!(css|gif|ico|jpg|js|png|txt|svg|woff|woff2|ttf|map|json|webp)$)([^.]+$)/>",
                    target="/index.html",
                    status="200",
                ),
            ],
        )
        self.branch = amplify.CfnBranch(
            self,
            "Branch",
            app_id=self.app.attr_app_id,
            branch_name=branch,
            stage="PRODUCTION" if production else "DEVELOPMENT",
            # Outside dev a push builds nothing: the deploy starts the job once the services
            # it talks to are up, after the approval of staging and prod (docs/operations.md).
            enable_auto_build=auto_build,
        )
        certificate = (
            amplify.CfnDomain.CertificateSettingsProperty(
                certificate_type="CUSTOM", custom_certificate_arn=certificate_arn
            )
            if certificate_arn
            else amplify.CfnDomain.CertificateSettingsProperty(certificate_type="AMPLIFY_MANAGED")
        )
        # Amplify writes the apex and www alias records into the Route 53 zone of the domain.
        self.domain = amplify.CfnDomain(
            self,
            "Domain",
            app_id=self.app.attr_app_id,
            domain_name=domain_name,
            sub_domain_settings=[
                amplify.CfnDomain.SubDomainSettingProperty(prefix="", branch_name=branch),
                amplify.CfnDomain.SubDomainSettingProperty(prefix="www", branch_name=branch),
            ],
            certificate_settings=certificate,
            enable_auto_sub_domain=False,
        )
        self.domain.add_resource_dependency(self.branch)
