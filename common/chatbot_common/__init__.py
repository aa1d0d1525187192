"""What every component of the chatbot shares, written once: the environments and the one
settings error, JSON log lines with the request id, the boto3 client settings, the env-file
format, the platform contract's names, the wire constants and the Server-Sent Events parser.

Standard library only: boto3 is imported by `chatbot_common.aws` alone, when it is used, so
the web app, the Lambdas, the CDK app and the tests can all take the package as it is.
"""
