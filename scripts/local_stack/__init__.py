"""The local stack: local AWS endpoint, local Bedrock-compatible model server and the chat API.

`python -m local_stack` (what `make run` calls) starts all of them on 127.0.0.1.
"""
