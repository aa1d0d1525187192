from conftest import only


def test_guardrail_filters_harmful_content_and_prompt_attacks(dev):
    guardrail = only(dev.template("Platform"), "AWS::Bedrock::Guardrail")["Properties"]
    filters = {f["Type"]: f for f in guardrail["ContentPolicyConfig"]["FiltersConfig"]}
    assert set(filters) == {"HATE", "INSULTS", "SEXUAL", "VIOLENCE", "MISCONDUCT", "PROMPT_ATTACK"}
    assert filters["PROMPT_ATTACK"]["OutputStrength"] == "NONE"
    assert all(f["InputStrength"] == "HIGH" for f in filters.values())


def test_guardrail_denies_the_configured_topics(dev):
    guardrail = only(dev.template("Platform"), "AWS::Bedrock::Guardrail")["Properties"]
    (topic,) = guardrail["TopicPolicyConfig"]["TopicsConfig"]
    assert topic["Name"] == "MedicalDiagnosis"
    assert topic["Type"] == "DENY"


def test_a_numbered_version_is_published(dev):
    template = dev.template("Platform")
    guardrail_id = next(iter(template.find_resources("AWS::Bedrock::Guardrail")))
    version = only(template, "AWS::Bedrock::GuardrailVersion")["Properties"]
    assert version["GuardrailIdentifier"] == {"Fn::GetAtt": [guardrail_id, "GuardrailId"]}
