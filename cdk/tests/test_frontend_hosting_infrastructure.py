import yaml

from conftest import only


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
