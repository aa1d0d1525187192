import re

import aws_cdk as cdk
from aws_cdk import assertions

import guardrail.infrastructure as guardrail_module
from config import DeniedTopic
from conftest import only
from guardrail.infrastructure import Guardrail


def test_guardrail_filters_harmful_content_and_prompt_attacks(dev):
    guardrail = only(dev.template("PlatformStateless"), "AWS::Bedrock::Guardrail")["Properties"]
    filters = {f["Type"]: f for f in guardrail["ContentPolicyConfig"]["FiltersConfig"]}
    assert set(filters) == {"HATE", "INSULTS", "SEXUAL", "VIOLENCE", "MISCONDUCT", "PROMPT_ATTACK"}
    assert filters["PROMPT_ATTACK"]["OutputStrength"] == "NONE"
    assert all(f["InputStrength"] == "HIGH" for f in filters.values())


def test_guardrail_denies_the_configured_topics(dev):
    guardrail = only(dev.template("PlatformStateless"), "AWS::Bedrock::Guardrail")["Properties"]
    topics = {t["Name"]: t for t in guardrail["TopicPolicyConfig"]["TopicsConfig"]}
    assert set(topics) == {"SelfHarmMethods", "MedicalDiagnosis"}
    assert all(topic["Type"] == "DENY" for topic in topics.values())


def test_guardrail_denies_self_harm_methods_within_bedrock_limits(dev):
    guardrail = only(dev.template("PlatformStateless"), "AWS::Bedrock::Guardrail")["Properties"]
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
    template = dev.template("PlatformStateless")
    guardrail_id = next(iter(template.find_resources("AWS::Bedrock::Guardrail")))
    version = only(template, "AWS::Bedrock::GuardrailVersion")["Properties"]
    assert version["GuardrailIdentifier"] == {"Fn::GetAtt": [guardrail_id, "GuardrailId"]}


def _guardrail_stack(**changes) -> tuple[dict, dict]:
    """(guardrail properties, version resource) of a guardrail synthesised in its own stack."""
    stack = cdk.Stack(env=cdk.Environment(account="111111111111", region="us-east-1"))
    arguments = {
        "name_prefix": "chatbot-test",
        "denied_topics": (DeniedTopic("Medical", "Diagnosing a condition.", ("Do I have it?",)),),
    }
    Guardrail(stack, "Guardrail", **{**arguments, **changes})
    template = assertions.Template.from_stack(stack)
    return only(template, "AWS::Bedrock::Guardrail")["Properties"], only(
        template, "AWS::Bedrock::GuardrailVersion"
    )


def test_a_configuration_change_publishes_a_new_version():
    """A version's properties all require a replacement: a new description is a new version."""
    _, first = _guardrail_stack()
    _, same = _guardrail_stack()
    changed_guardrail, changed = _guardrail_stack(
        denied_topics=(DeniedTopic("Medical", "Diagnosing a condition.", ("Do I have it?",)),)
        + (DeniedTopic("Legal", "Giving legal advice.", ()),)
    )
    # The two configured topics, after the self-harm methods topic every guardrail denies.
    assert [t["Name"] for t in changed_guardrail["TopicPolicyConfig"]["TopicsConfig"]] == [
        guardrail_module.SELF_HARM_METHODS.name,
        "Medical",
        "Legal",
    ]
    assert same["Properties"]["Description"] == first["Properties"]["Description"]
    assert changed["Properties"]["Description"] != first["Properties"]["Description"]
    assert re.fullmatch(
        r"Published by the platform stack; configuration [0-9a-f]{16}",
        first["Properties"]["Description"],
    )
    # The version running tasks use is kept when a new one replaces it.
    assert first["DeletionPolicy"] == first["UpdateReplacePolicy"] == "Retain"


def test_the_digest_covers_every_property_of_the_guardrail(monkeypatch):
    _, first = _guardrail_stack()
    monkeypatch.setattr(guardrail_module, "BLOCKED_MESSAGE", "Another refusal text.")
    _, changed = _guardrail_stack()
    assert changed["Properties"]["Description"] != first["Properties"]["Description"]


def test_the_synthesised_versions_carry_the_digest_of_their_guardrail(dev, prod):
    def description(synthesised):
        version = only(synthesised.template("PlatformStateless"), "AWS::Bedrock::GuardrailVersion")
        return version["Properties"]["Description"].rsplit(" ", 1)[1]

    # The name (chatbot-<env>-chat) is part of the configuration.
    for synthesised in (dev, prod):
        assert re.fullmatch(r"[0-9a-f]{16}", description(synthesised))
    assert description(dev) != description(prod)
