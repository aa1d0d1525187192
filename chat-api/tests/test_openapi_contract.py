"""The OpenAPI document is the contract, both ways: requests generated from it (schemathesis on
hypothesis) against Gunicorn get no 5xx, no undocumented status, no undocumented content type,
and no response that breaks its schema; requests that break it are refused with a 4xx."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

# Enough to reach each parameter's edges; the whole module stays well under a minute here.
EXAMPLES = {GenerationMode.POSITIVE: 25, GenerationMode.NEGATIVE: 15}
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


def _operations(document: dict):
    schema = schemathesis.openapi.from_dict(document)
    return [result.ok() for result in schema.get_all_operations()]


@pytest.fixture(scope="module")
def contract_user(stack):
    from support import new_user

    return new_user(stack)


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_generated_requests_keep_the_contract(api_server, openapi_document, contract_user, mode):
    base_url = api_server.url + "/api/v1"
    checks = CHECKS + ([negative_data_rejection] if mode is GenerationMode.NEGATIVE else [])
    tried: list[str] = []
    for operation in _operations(openapi_document):
        if mode is GenerationMode.NEGATIVE and not _has_inputs(operation):
            continue  # nothing to break

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=EXAMPLES[mode],
            deadline=None,
            database=None,
            derandomize=True,  # the same requests on every run, so a failure reproduces
            suppress_health_check=list(HealthCheck),
        )
        def check(case):
            case.call_and_validate(
                base_url=base_url, headers=contract_user.headers, checks=checks, timeout=30
            )

        check()
        tried.append(operation.label)
    assert len(tried) >= (18 if mode is GenerationMode.POSITIVE else 11), tried


def _has_inputs(operation) -> bool:
    return bool(operation.body) or any(
        param.location in ("query", "path") for param in operation.iter_parameters()
    )


def test_every_enforced_format_is_declared(openapi_document):
    paths = openapi_document["paths"]
    listing = {p["name"]: p["schema"] for p in paths["/conversations"]["get"]["parameters"]}
    assert listing["limit"] == {"type": "integer", "minimum": 1, "maximum": 100, "default": 20}
    assert listing["cursor"]["pattern"] == "^[A-Za-z0-9_-]{1,1024}$"
    detail = paths["/conversations/{conversation_id}"]
    assert detail["parameters"][0]["schema"]["pattern"] == "^[0-9A-HJKMNP-TV-Z]{26}$"
    detail_params = {p["name"]: p["schema"] for p in detail["get"]["parameters"]}
    assert detail_params["cursor"]["pattern"] == "^[0-9A-HJKMNP-TV-Z]{26}$"
    assert detail_params["limit"]["maximum"] == 100
    for path in ("/chat", "/chat/stream"):
        refused = paths[path]["post"]["responses"]["429"]
        assert "Retry-After" in refused["headers"]
        assert "rate_limited" in refused["description"]
        assert "quota_exceeded" in refused["description"]
    assert "200" in paths["/usage"]["get"]["responses"]
    search = listing["q"]
    assert (search["minLength"], search["maxLength"]) == (1, 100)
    export = paths["/conversations/{conversation_id}/export"]["get"]["parameters"][0]
    assert export["schema"]["enum"] == ["json", "markdown"]
    moods = paths["/me/moods"]["get"]
    assert moods["parameters"][0]["schema"] == {
        "type": "integer", "minimum": 1, "maximum": 90, "default": 30
    }  # fmt: skip
    assert "mood_timeline_off" in moods["responses"]["409"]["description"]
    for path in (
        "/conversations/{conversation_id}/regenerate",
        "/conversations/{conversation_id}/edit",
    ):
        streamed = paths[path]["post"]["responses"]
        assert "text/event-stream" in streamed["200"]["content"]
        assert "429" in streamed and "409" in streamed
