import json

import pytest
import yaml

import config
from chatbot_common import contract
from conftest import only
from web_ui_hosting.infrastructure import SECURITY_HEADERS_FILE, security_headers


def test_amplify_builds_the_reflex_static_export(prod):
    app = only(prod.template("Edge"), "AWS::Amplify::App")["Properties"]
    spec = yaml.safe_load(app["BuildSpec"])
    build = spec["frontend"]["phases"]["build"]["commands"]
    assert any("reflex export --frontend-only" in command for command in build)
    assert spec["frontend"]["artifacts"]["files"] == ["**/*"]
    assert app["Platform"] == "WEB"
    assert "resolve:secretsmanager:/chatbot/prod/secrets/amplify-github-token" in str(
        app["AccessToken"]
    )


def test_environment_variables_per_stage(dev, prod):
    def variables(synthesised):
        app = only(synthesised.template("Edge"), "AWS::Amplify::App")["Properties"]
        return {v["Name"]: v["Value"] for v in app["EnvironmentVariables"]}

    assert variables(prod)["APP_ENV"] == "prod"
    assert variables(prod)["CHAT_API_URL"] == "https://api.chatbot.muykol.com"
    assert variables(dev)["CHAT_API_URL"] == "https://api.dev.chatbot.muykol.com"
    assert {"COGNITO_USER_POOL_ID", "COGNITO_APP_CLIENT_ID"} <= set(variables(dev))


def test_custom_domain_with_https_and_redirects(prod):
    template = prod.template("Edge")
    domain = only(template, "AWS::Amplify::Domain")["Properties"]
    assert domain["DomainName"] == "chatbot.muykol.com"
    assert [s["Prefix"] for s in domain["SubDomainSettings"]] == ["", "www"]
    assert domain["CertificateSettings"]["CertificateType"] == "CUSTOM"
    rules = only(template, "AWS::Amplify::App")["Properties"]["CustomRules"]
    redirects = {r["Source"]: (r["Target"], r["Status"]) for r in rules}
    assert redirects["http://chatbot.muykol.com"] == ("https://chatbot.muykol.com", "301")
    assert redirects["https://www.chatbot.muykol.com"] == ("https://chatbot.muykol.com", "301")
    branch = only(template, "AWS::Amplify::Branch")["Properties"]
    assert branch["Stage"] == "PRODUCTION"


def _app(synthesised) -> dict:
    return only(synthesised.template("Edge"), "AWS::Amplify::App")["Properties"]


def test_only_dev_builds_on_every_push(dev, staging, prod):
    """Staging and prod build when the deploy starts the job, after their approval."""
    for synthesised, auto in ((dev, True), (staging, False), (prod, False)):
        branch = only(synthesised.template("Edge"), "AWS::Amplify::Branch")["Properties"]
        assert branch["EnableAutoBuild"] is auto, synthesised.env


def test_the_branch_builds_on_push_as_the_configuration_says_and_exports_the_app(synthesised):
    """One setting, web_ui_auto_build, for the branch and the deploy (scripts/deploy/): the
    deploy finds the app to build through this export."""
    for env, synth in synthesised.items():
        settings = config.load(env, config.cdk_json_context())
        template = synth.template_json("Edge")
        resources = template["Resources"]
        (branch,) = [r for r in resources.values() if r["Type"] == "AWS::Amplify::Branch"]
        assert branch["Properties"]["EnableAutoBuild"] is settings.web_ui_auto_build
        assert branch["Properties"]["BranchName"] == settings.web_ui_branch
        (app_id,) = [k for k, r in resources.items() if r["Type"] == "AWS::Amplify::App"]
        exported = {
            output["Export"]["Name"]: output["Value"]
            for output in template["Outputs"].values()
            if "Export" in output
        }
        assert exported[contract.export_name("FRONTEND_APP_ID", env)] == {
            "Fn::GetAtt": [app_id, "AppId"]
        }


def test_the_export_points_at_the_environments_backend(dev, staging, prod):
    for synthesised, host in (
        (dev, "api.dev.chatbot.muykol.com"),
        (staging, "api.staging.chatbot.muykol.com"),
        (prod, "api.chatbot.muykol.com"),
    ):
        variables = {v["Name"]: v["Value"] for v in _app(synthesised)["EnvironmentVariables"]}
        assert variables["REFLEX_API_URL"] == f"https://{host}"


def _served_headers(synthesised) -> dict[str, str]:
    document = yaml.safe_load(_app(synthesised)["CustomHeaders"])
    (rule,) = document["customHeaders"]
    assert rule["pattern"] == "**"
    return {h["key"]: h["value"] for h in rule["headers"]}


def test_every_page_carries_the_security_headers_of_the_web_app(prod, dev):
    spec = json.loads(SECURITY_HEADERS_FILE.read_text())
    for synthesised, host in (
        (prod, "api.chatbot.muykol.com"),
        (dev, "api.dev.chatbot.muykol.com"),
    ):
        served = _served_headers(synthesised)
        assert set(served) == {"Content-Security-Policy"} | set(spec["headers"]) | set(
            spec["https_headers"]
        )
        assert (
            served["Strict-Transport-Security"]
            == spec["https_headers"]["Strict-Transport-Security"]
        )
        assert served["X-Content-Type-Options"] == "nosniff"
        csp = {d.split()[0]: d.split()[1:] for d in served["Content-Security-Policy"].split("; ")}
        assert list(csp) == list(spec["content_security_policy"])
        assert csp["connect-src"] == ["'self'", f"https://{host}", f"wss://{host}"]
        for name, values in spec["content_security_policy"].items():
            if name != "connect-src":
                assert csp[name] == values, name
        assert csp["frame-ancestors"] == ["'none'"] and csp["script-src"] == ["'self'"]


def test_the_build_moves_inline_scripts_out_for_the_policy(prod):
    """script-src 'self' admits no inline script: the export's pages are rewritten first."""
    spec = yaml.safe_load(_app(prod)["BuildSpec"])
    (build,) = spec["frontend"]["phases"]["build"]["commands"]
    steps = [step.strip() for step in build.split("&&")]
    assert steps[0] == "cd web-ui"
    assert "reflex export --frontend-only" in steps[1]
    assert steps[2].endswith("-m web_ui.security_headers externalize .web/build/client")
    assert spec["frontend"]["artifacts"]["baseDirectory"] == "web-ui/.web/build/client"


def test_a_policy_without_connect_src_or_an_http_backend_is_refused(tmp_path):
    path = tmp_path / "headers.json"
    path.write_text(
        json.dumps(
            {
                "content_security_policy": {"default-src": ["'self'"]},
                "headers": {},
                "https_headers": {},
            }
        )
    )
    with pytest.raises(ValueError, match="no connect-src"):
        security_headers("https://api.example.com", path)
    with pytest.raises(ValueError, match="must be https"):
        security_headers("http://api.example.com")
