from aws_cdk.assertions import Match

from conftest import resources_of


def _table(synthesised, name):
    tables = resources_of(synthesised.template("PlatformStateful"), "AWS::DynamoDB::Table")
    (table,) = [t for t in tables.values() if t["Properties"]["TableName"] == name]
    return table


def test_conversations_table_matches_the_chat_api_data_model(dev):
    table = _table(dev, "chatbot-dev-conversations")["Properties"]
    assert table["KeySchema"] == [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ]
    assert sorted(table["AttributeDefinitions"], key=lambda a: a["AttributeName"]) == [
        {"AttributeName": name, "AttributeType": "S"} for name in ("gsi1pk", "gsi1sk", "pk", "sk")
    ]
    assert table["GlobalSecondaryIndexes"] == [
        {
            "IndexName": "gsi1",
            "KeySchema": [
                {"AttributeName": "gsi1pk", "KeyType": "HASH"},
                {"AttributeName": "gsi1sk", "KeyType": "RANGE"},
            ],
            "Projection": {"ProjectionType": "ALL"},
        }
    ]
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}


def test_feedback_and_profiles_keys(dev):
    feedback = _table(dev, "chatbot-dev-feedback")["Properties"]
    assert feedback["KeySchema"] == [{"AttributeName": "feedback_id", "KeyType": "HASH"}]
    # The chat API's account export and deletion find a user's ratings by this index.
    assert feedback["GlobalSecondaryIndexes"] == [
        {
            "IndexName": "user_id",
            "KeySchema": [{"AttributeName": "user_id", "KeyType": "HASH"}],
            "Projection": {"ProjectionType": "ALL"},
        }
    ]
    assert _table(dev, "chatbot-dev-profiles")["Properties"]["KeySchema"] == [
        {"AttributeName": "user_id", "KeyType": "HASH"}
    ]


def test_every_table_has_pitr_encryption_and_on_demand_billing(synthesised):
    for synth in synthesised.values():
        synth.template("PlatformStateful").all_resources_properties(
            "AWS::DynamoDB::Table",
            {
                "BillingMode": "PAY_PER_REQUEST",
                "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
                "SSESpecification": {"SSEEnabled": True},
            },
        )


def test_deletion_protection_and_retention_in_prod_not_dev(dev, prod):
    prod.template("PlatformStateful").all_resources(
        "AWS::DynamoDB::Table",
        {
            "Properties": Match.object_like({"DeletionProtectionEnabled": True}),
            "DeletionPolicy": "Retain",
        },
    )
    dev.template("PlatformStateful").all_resources(
        "AWS::DynamoDB::Table",
        {
            "Properties": Match.object_like({"DeletionProtectionEnabled": False}),
            "DeletionPolicy": "Delete",
        },
    )
