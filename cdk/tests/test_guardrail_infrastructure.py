from conftest import only


def test_guardrail_filters_harmful_content_and_prompt_attacks(dev):
    guardrail = only(dev.template("Platform"), "AWS::Bedrock::Guardrail")["Properties"]
    filters = {f["Type"]: f for f in guardrail["ContentPolicyConfig"]["FiltersConfig"]}
    assert set(filters) == {"HATE", "INSULTS", "SEXUAL", "VIOLENCE", "MISCONDUCT", "PROMPT_ATTACK"}
    assert filters["PROMPT_ATTACK"]["OutputStrength"] == "NONE"
    assert all(f["InputStrength"] == "HIGH" for f in filters.values())


def test_guardrail_denies_the_configured_topics(dev):
    guardrail = only(dev.template("Platform"), "AWS::Bedrock::Guardrail")["Properties"]
    topics = {t["Name"]: t for t in guardrail["TopicPolicyConfig"]["TopicsConfig"]}
    assert set(topics) == {"SelfHarmMethods", "MedicalDiagnosis"}
    assert all(topic["Type"] == "DENY" for topic in topics.values())


def test_guardrail_denies_self_harm_methods_within_bedrock_limits(dev):
    guardrail = only(dev.template("Platform"), "AWS::Bedrock::Guardrail")["Properties"]
    topics = {t["Name"]: t for t in guardrail["TopicPolicyConfig"]["TopicsConfig"]}
    methods = topics["SelfHarmMethods"]
    assert "suicide or self-harm" in methods["Definition"]
    assert any("painless way" in example for example in methods["Examples"])
    # Bedrock refuses a topic over these limits at deploy time; check every topic here.
    for topic in topics.values():
        assert len(topic["Name"]) <= 100
        assert len(topic["Definition"]) <= 200
        assert len(topic.get("Examples", [])) <= 5
        assert all(len(example) <= 100 for example in topic.get("Examples", []))


def test_a_numbered_version_is_published(dev):
    template = dev.template("Platform")
    guardrail_id = next(iter(template.find_resources("AWS::Bedrock::Guardrail")))
    version = only(template, "AWS::Bedrock::GuardrailVersion")["Properties"]
    assert version["GuardrailIdentifier"] == {"Fn::GetAtt": [guardrail_id, "GuardrailId"]}
