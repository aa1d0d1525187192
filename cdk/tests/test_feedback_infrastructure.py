from aws_cdk.assertions import Match

from conftest import resources_of


def test_feedback_queue_redrives_to_the_dlq_after_five_receives(dev):
    template = dev.template("PlatformStateful")
    queues = resources_of(template, "AWS::SQS::Queue")
    by_name = {q["Properties"]["QueueName"]: (lid, q) for lid, q in queues.items()}
    dlq_id, _ = by_name["chatbot-dev-feedback-dlq"]
    _, queue = by_name["chatbot-dev-feedback"]
    assert queue["Properties"]["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": [dlq_id, "Arn"]},
        "maxReceiveCount": 5,
    }


def test_both_queues_are_encrypted(dev):
    dev.template("PlatformStateful").all_resources_properties(
        "AWS::SQS::Queue", {"SqsManagedSseEnabled": True}
    )


def test_both_queues_refuse_requests_without_tls(dev):
    template = dev.template("PlatformStateful")
    policies = resources_of(template, "AWS::SQS::QueuePolicy")
    assert len(policies) == 2
    template.all_resources_properties(
        "AWS::SQS::QueuePolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Effect": "Deny",
                                "Action": "sqs:*",
                                "Principal": {"AWS": "*"},
                                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                            }
                        )
                    ]
                ),
                "Version": "2012-10-17",
            }
        },
    )
