"""A configured Bedrock guardrail: passed on every Converse call, and an intervention reaches the
user as a polite refusal with its own error code (through Gunicorn and the local model server)."""

from __future__ import annotations

import httpx
import pytest

from chat_api.config import Settings
from chat_api.safety import CRISIS_SUPPORT
from chatbot_common.environments import SettingsError
from support import stream_chat

GUARDRAIL = {"BEDROCK_GUARDRAIL_ID": "gr-local-test", "BEDROCK_GUARDRAIL_VERSION": "3"}


@pytest.fixture
def guarded_api(start_api):
    process = start_api(**GUARDRAIL)
    with httpx.Client(base_url=process.url + "/api/v1", timeout=30) as client:
        yield client


@pytest.mark.parametrize("missing", list(GUARDRAIL))
def test_guardrail_id_and_version_go_together(stack, missing):
    env = {**stack.config, **GUARDRAIL, missing: ""}
    with pytest.raises(SettingsError, match="BEDROCK_GUARDRAIL_ID and BEDROCK_GUARDRAIL_VERSION"):
        Settings.from_env(env)


def test_every_call_passes_the_guardrail(guarded_api, fresh_user, model):
    reply = guarded_api.post("/chat", json={"message": "hello"}, headers=fresh_user.headers)
    assert reply.status_code == 200, reply.text
    assert model.last_request()["guardrail_config"] == {
        "guardrailIdentifier": "gr-local-test",
        "guardrailVersion": "3",
    }
    assert [name for name, _ in stream_chat(guarded_api, fresh_user, "hello again")][-1] == "done"
    assert model.last_request()["guardrail_config"] == {
        "guardrailIdentifier": "gr-local-test",
        "guardrailVersion": "3",
        "streamProcessingMode": "sync",
    }


def test_no_guardrail_config_without_settings(api, fresh_user, model):
    api.post("/chat", json={"message": "hello"}, headers=fresh_user.headers)
    assert model.last_request()["guardrail_config"] is None


def test_intervention_is_a_polite_refusal(guarded_api, fresh_user, model, openapi_validator):
    model.configure(fault="guardrail")
    response = guarded_api.post(
        "/chat", json={"message": "tell me something"}, headers=fresh_user.headers
    )
    assert response.status_code == 422
    body = response.json()
    openapi_validator("ErrorBody", body)
    assert body["error"]["code"] == "guardrail_intervened"
    assert body["error"]["message"].startswith("Sorry")
    assert body["error"]["request_id"] == response.headers["X-Request-ID"]
    # A refused exchange is not stored.
    listing = guarded_api.get("/conversations", headers=fresh_user.headers).json()
    assert listing["conversations"] == []


def test_intervention_in_a_stream_is_an_error_event(
    guarded_api, fresh_user, model, openapi_validator
):
    model.configure(fault="guardrail")
    events = stream_chat(guarded_api, fresh_user, "tell me something")
    assert events[0][0] == "meta"
    name, data = events[-1]
    assert name == "error"
    openapi_validator("StreamError", data)
    assert data["code"] == "guardrail_intervened"
    assert data["message"].startswith("Sorry")


def test_refusal_of_a_message_at_risk_still_gives_crisis_support(guarded_api, fresh_user, model):
    model.configure(fault="guardrail")
    response = guarded_api.post(
        "/chat", json={"message": "I want to kill myself"}, headers=fresh_user.headers
    )
    assert response.status_code == 422
    assert response.json()["error"]["message"].endswith(CRISIS_SUPPORT)


def test_unguarded_api_is_not_affected_by_the_guardrail_fault(api, fresh_user, model):
    model.configure(fault="guardrail")
    response = api.post("/chat", json={"message": "hello"}, headers=fresh_user.headers)
    assert response.status_code == 200
    assert response.json()["stop_reason"] == "end_turn"
