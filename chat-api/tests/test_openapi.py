"""The served OpenAPI document is valid and covers every route the app has."""

from __future__ import annotations

import re

from openapi_spec_validator import validate


def test_document_is_valid_openapi_3_1(openapi_document):
    assert openapi_document["openapi"] == "3.1.0"
    validate(openapi_document)


def test_every_route_is_documented(app, openapi_document):
    documented = {
        (path, method.upper())
        for path, operations in openapi_document["paths"].items()
        for method in operations
        if method in {"get", "post", "put", "delete", "patch"}
    }
    served = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/"):
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule.removeprefix("/api/v1"))
        served |= {(path, method) for method in rule.methods - {"HEAD", "OPTIONS"}}
    assert served == documented


def test_request_schemas_match_the_validators(openapi_document):
    chat = openapi_document["components"]["schemas"]["ChatRequest"]
    assert chat["additionalProperties"] is False
    assert chat["required"] == ["message"]
    assert chat["properties"]["message"]["maxLength"] == 4000


def test_messages_are_closed_and_carry_their_rating(openapi_document):
    schemas = openapi_document["components"]["schemas"]
    message = schemas["Message"]
    # Closed, so checking a real response against it fails on any undocumented field.
    assert message["additionalProperties"] is False
    feedback = message["properties"]["feedback"]["anyOf"][0]
    assert feedback == {"$ref": "#/components/schemas/FeedbackOut"}
    assert schemas["FeedbackOut"]["properties"]["rating"]["enum"] == ["up", "down"]
