"""A complete, valid set of the web app's settings variables (local), for the tests that read
the settings from an environment and change one variable at a time."""

GOOD_ENV = {
    "APP_ENV": "local",
    "AWS_REGION": "us-east-1",
    "COGNITO_USER_POOL_ID": "us-east-1_AbC123",
    "COGNITO_APP_CLIENT_ID": "client123",
    "CHAT_API_URL": "http://127.0.0.1:8080/",
    "AWS_ENDPOINT_URL": "http://127.0.0.1:4566",
}
