"""The Chalice app of lambdas/, embedded and wired: Cognito triggers and the consumer."""

import json
from pathlib import Path

from conftest import only

HANDLERS = {
    "PreSignUp": "pre_sign_up",
    "PostConfirmation": "post_confirmation",
    "PreTokenGeneration": "pre_token_generation",
    "IngestFeedback": "ingest_feedback",
}


def _functions(synthesised):
    return synthesised.template("PlatformStateless").find_resources("AWS::Serverless::Function")


def test_every_chalice_function_is_embedded_with_its_fixed_name(synthesised):
    for env, synth in synthesised.items():
        functions = _functions(synth)
        assert set(functions) == set(HANDLERS)
        for logical_id, handler in HANDLERS.items():
            properties = functions[logical_id]["Properties"]
            assert properties["FunctionName"] == f"chatbot-auth-{env}-{handler}"
            assert properties["Handler"] == f"app.{handler}"
            assert properties["Environment"]["Variables"]["APP_ENV"] == env
            assert set(properties["CodeUri"]) == {"Bucket", "Key"}  # a CDK asset


def test_user_pool_triggers_are_the_chalice_functions(synthesised):
    for env, synth in synthesised.items():
        pool = only(synth.template("PlatformStateful"), "AWS::Cognito::UserPool")
        config = pool["Properties"]["LambdaConfig"]

        account = synth.stack("PlatformStateless").account
        prefix = f"arn:{{Partition}}:lambda:us-east-1:{account}:function:"

        rendered = json.dumps(config).replace('{"Ref": "AWS::Partition"}', '"{Partition}"')
        rendered = json.loads(rendered)
        for key, handler in (
            ("PreSignUp", "pre_sign_up"),
            ("PostConfirmation", "post_confirmation"),
        ):
            assert "".join(rendered[key]["Fn::Join"][1]) == f"{prefix}chatbot-auth-{env}-{handler}"
        token = rendered["PreTokenGenerationConfig"]
        assert token["LambdaVersion"] == "V2_0"
        assert "".join(token["LambdaArn"]["Fn::Join"][1]) == (
            f"{prefix}chatbot-auth-{env}-pre_token_generation"
        )


def test_cognito_may_invoke_each_trigger_from_this_pool_only(dev):
    template = dev.template("PlatformStateless")
    permissions = template.find_resources("AWS::Lambda::Permission")
    targets = set()
    for permission in permissions.values():
        properties = permission["Properties"]
        assert properties["Principal"] == "cognito-idp.amazonaws.com"
        assert properties["Action"] == "lambda:InvokeFunction"
        assert properties["SourceAccount"] == "111111111111"
        assert "IdentityUserPool" in properties["SourceArn"]["Fn::ImportValue"]
        targets.add(properties["FunctionName"]["Fn::Select"][1]["Fn::Split"][1]["Fn::GetAtt"][0])
    assert targets == {"PreSignUp", "PostConfirmation", "PreTokenGeneration"}


def test_consumer_reads_the_feedback_queue_with_partial_batch_responses(prod):
    consumer = _functions(prod)["IngestFeedback"]["Properties"]
    (event,) = consumer["Events"].values()
    assert event["Type"] == "SQS"
    assert event["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    queue_arn = "arn:${AWS::Partition}:sqs:${AWS::Region}:${AWS::AccountId}:chatbot-prod-feedback"
    assert event["Properties"]["Queue"] == {"Fn::Sub": queue_arn}


def _role_statements(synthesised, logical_id):
    template = synthesised.template("PlatformStateless")
    function = _functions(synthesised)[logical_id]["Properties"]
    role_id = function["Role"]["Fn::GetAtt"][0]
    policies = template.find_resources("AWS::IAM::Policy")
    (policy,) = [p for p in policies.values() if p["Properties"]["Roles"] == [{"Ref": role_id}]]
    return {s["Sid"]: s for s in policy["Properties"]["PolicyDocument"]["Statement"]}


def test_each_function_has_its_own_least_privilege_role(dev):
    roles = {_functions(dev)[lid]["Properties"]["Role"]["Fn::GetAtt"][0] for lid in HANDLERS}
    assert len(roles) == 4
    assert set(_role_statements(dev, "PreSignUp")) == {"OwnLogStreams"}
    post = _role_statements(dev, "PostConfirmation")
    assert post["Profiles"]["Action"] == "dynamodb:PutItem"
    assert post["DefaultGroup"]["Action"] == "cognito-idp:AdminAddUserToGroup"
    token = _role_statements(dev, "PreTokenGeneration")
    assert set(token) == {"OwnLogStreams", "Profiles", "DefaultGroup"}
    consumer = _role_statements(dev, "IngestFeedback")
    assert consumer["Feedback"]["Action"] == "dynamodb:PutItem"
    assert consumer["FeedbackDeadLetters"]["Action"] == "sqs:SendMessage"
    for statements in map(lambda lid: _role_statements(dev, lid), HANDLERS):
        for statement in statements.values():
            assert statement["Resource"] != "*"
            assert "*" not in json.dumps(statement["Action"])


def test_function_log_groups_are_encrypted_with_retention(prod):
    groups = prod.template("PlatformStateless").find_resources("AWS::Logs::LogGroup")
    names = {g["Properties"]["LogGroupName"]: g["Properties"] for g in groups.values()}
    assert set(names) == {f"/aws/lambda/chatbot-auth-prod-{h}" for h in HANDLERS.values()}
    for properties in names.values():
        assert properties["RetentionInDays"] == 365
        assert "KmsKeyId" in properties


def test_lambda_errors_are_alarmed_for_every_function(dev):
    alarms = dev.template("Edge").find_resources("AWS::CloudWatch::Alarm")
    names = {a["Properties"]["AlarmName"] for a in alarms.values()}
    for logical_id in HANDLERS:
        assert f"chatbot-dev-lambda-errors-{logical_id}Function" in names


def test_pre_token_generation_may_repair_the_profile_and_the_default_group(synthesised):
    # It creates a missing profile and adds a missing default group, as post confirmation does:
    # the same actions as lambdas's own policy for the function.
    policy_dir = Path(__file__).parents[2] / "lambdas" / ".chalice" / "policies"
    for env, synth in synthesised.items():
        chalice_policy = json.loads((policy_dir / f"{env}-pre_token_generation.json").read_text())
        chalice = {s["Sid"]: s["Action"] for s in chalice_policy["Statement"]}
        statements = _role_statements(synth, "PreTokenGeneration")
        profiles, group = statements["Profiles"], statements["DefaultGroup"]
        assert sorted(profiles["Action"]) == sorted(chalice["Profiles"])
        assert sorted(profiles["Action"]) == ["dynamodb:GetItem", "dynamodb:PutItem"]
        assert "TablesProfiles" in profiles["Resource"]["Fn::ImportValue"]
        assert group["Action"] == "cognito-idp:AdminAddUserToGroup"
        assert [group["Action"]] == chalice["DefaultGroup"]
        assert "IdentityUserPool" in json.dumps(group["Resource"])
        # The same table and pool post confirmation writes to.
        post = _role_statements(synth, "PostConfirmation")
        assert profiles["Resource"] == post["Profiles"]["Resource"]
        assert group["Resource"] == post["DefaultGroup"]["Resource"]
