"""Logic of the Chalice app: Cognito user pool triggers and the feedback queue consumer.

`app.py` only declares the Lambda functions; everything they do lives here. The feedback
message model (`feedback_message.py`) is a link to the chat API's own definition, so the
producer and the consumer validate with the same code.
"""
