"""The Chalice app: Cognito user pool triggers and the feedback queue consumer.

Only declarations here; the logic is in chalicelib/. Every setting is an environment variable
(see docs/lambdas.md). The feedback queue's name is read when the app is packaged,
because Chalice writes the event source mapping from the decorator.
"""

import os

from chalice import Chalice

from chalicelib import cognito, feedback, logs, settings

app = Chalice(app_name="chatbot-auth", configure_logs=False)
logs.configure()

FEEDBACK_QUEUE_NAME = os.environ.get("FEEDBACK_QUEUE_NAME", "chatbot-dev-feedback")
FEEDBACK_BATCH_SIZE = 10


@app.lambda_function(name="pre_sign_up")
def pre_sign_up(event, context):
    logs.bind(context)
    return cognito.pre_sign_up(event, settings.sign_up_settings)


@app.lambda_function(name="post_confirmation")
def post_confirmation(event, context):
    logs.bind(context)
    return cognito.post_confirmation(event, settings.profile_settings)


@app.lambda_function(name="pre_token_generation")
def pre_token_generation(event, context):
    logs.bind(context)
    return cognito.pre_token_generation(event, settings.profile_settings)


@app.on_sqs_message(
    queue=FEEDBACK_QUEUE_NAME, batch_size=FEEDBACK_BATCH_SIZE, name="ingest_feedback"
)
def ingest_feedback(event):
    logs.bind(event.context)
    return feedback.handle([record.to_dict() for record in event])
