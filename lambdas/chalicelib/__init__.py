"""Logic of the Chalice app: Cognito user pool triggers and the feedback queue consumer.

`app.py` only declares the Lambda functions; everything they do lives here. The feedback
message model (`feedback_message.py`) is a link to the chat API's own definition, so the
producer and the consumer validate with the same code. The shared package `chatbot_common`
reaches the bundle the same way: `vendor/chatbot_common/` holds links to its files, and Chalice
puts `vendor/`'s contents at the top of the bundle.
"""
