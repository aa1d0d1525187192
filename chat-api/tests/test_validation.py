"""Bad input gets a clear 4xx JSON error and changes nothing."""

from __future__ import annotations

import pytest

from chat_api.schemas import MAX_MESSAGE_CHARS

BAD_BODIES = [
    pytest.param({"message": ""}, 422, id="empty"),
    pytest.param({"message": "   \n\t "}, 422, id="whitespace"),
    pytest.param({"message": "x" * (MAX_MESSAGE_CHARS + 1)}, 422, id="too-long"),
    pytest.param({"message": 42}, 422, id="wrong-type"),
    pytest.param({"message": ["hi"]}, 422, id="list-message"),
    pytest.param({"message": "hi", "conversation_id": 7}, 422, id="wrong-id-type"),
    pytest.param({"message": "hi", "conversation_id": "not-an-id"}, 422, id="malformed-id"),
    pytest.param({"message": "hi", "mood": "happy"}, 422, id="unknown-field"),
    pytest.param({}, 422, id="missing-message"),
    pytest.param(["message"], 422, id="not-an-object"),
]


def _conversation_count(api, user) -> int:
    return len(api.get("/conversations", headers=user.headers).json()["conversations"])


@pytest.mark.parametrize("path", ["/chat", "/chat/stream"])
@pytest.mark.parametrize(("body", "status"), BAD_BODIES)
def test_bad_chat_bodies_are_refused(api, fresh_user, model, openapi_validator, path, body, status):
    response = api.post(path, json=body, headers=fresh_user.headers)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    openapi_validator("ErrorBody", response.json())
    assert error["code"] == "validation_error"
    assert error["request_id"] == response.headers["X-Request-ID"]
    assert _conversation_count(api, fresh_user) == 0
    assert model.stats()["converse"] + model.stats()["converse_stream"] == 0


def test_validation_error_names_the_field(api, alice):
    response = api.post("/chat", json={"message": "hi", "mood": "happy"}, headers=alice.headers)
    assert any(detail["field"] == "mood" for detail in response.json()["error"]["details"])


@pytest.mark.parametrize("path", ["/chat", "/chat/stream", "/feedback"])
def test_invalid_json_is_400(api, alice, path):
    response = api.post(
        path,
        content=b'{"message": "hi"',
        headers={**alice.headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_json"


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_wrong_content_type_is_415(api, alice, content_type):
    headers = {**alice.headers}
    if content_type:
        headers["Content-Type"] = content_type
    response = api.post("/chat", content=b'{"message": "hi"}', headers=headers)
    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media_type"


def test_body_over_the_size_limit_is_413(api, fresh_user):
    body = b'{"message": "' + b"a" * (40 * 1024) + b'"}'
    response = api.post(
        "/chat", content=body, headers={**fresh_user.headers, "Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"
    assert _conversation_count(api, fresh_user) == 0


def test_unknown_conversation_is_404(api, fresh_user):
    response = api.post(
        "/chat",
        json={"message": "hello", "conversation_id": "01JBZZZZZZZZZZZZZZZZZZZZZZ"},
        headers=fresh_user.headers,
    )
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert _conversation_count(api, fresh_user) == 0


def test_someone_elses_conversation_is_404_and_untouched(api, alice, bob):
    mine = api.post("/chat", json={"message": "my secret plan"}, headers=alice.headers).json()
    cid = mine["conversation_id"]
    for response in (
        api.post("/chat", json={"message": "hi", "conversation_id": cid}, headers=bob.headers),
        api.post(
            "/chat/stream", json={"message": "hi", "conversation_id": cid}, headers=bob.headers
        ),
        api.get(f"/conversations/{cid}", headers=bob.headers),
        api.delete(f"/conversations/{cid}", headers=bob.headers),
    ):
        assert response.status_code == 404, response.text
    detail = api.get(f"/conversations/{cid}", headers=alice.headers).json()
    assert detail["message_count"] == 2


def test_bad_page_parameters(api, alice):
    assert api.get("/conversations?limit=0", headers=alice.headers).status_code == 400
    assert api.get("/conversations?limit=abc", headers=alice.headers).status_code == 400
    assert api.get("/conversations?limit=101", headers=alice.headers).status_code == 400
    response = api.get("/conversations?cursor=garbage", headers=alice.headers)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_parameter"


def test_unknown_route_and_method(api, alice):
    assert api.get("/nope").json()["error"]["code"] == "not_found"
    response = api.get("/chat", headers=alice.headers)
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("GET", "/chat", {"POST", "OPTIONS"}),
        ("PUT", "/conversations", {"GET", "HEAD", "OPTIONS"}),
        (
            "POST",
            "/conversations/01JBZZZZZZZZZZZZZZZZZZZZZZ",
            {"GET", "HEAD", "PATCH", "DELETE", "OPTIONS"},
        ),
        ("DELETE", "/usage", {"GET", "HEAD", "OPTIONS"}),
    ],
)
def test_405_names_the_allowed_methods(api, alice, method, path, allowed):
    response = api.request(method, path, headers=alice.headers)
    assert response.status_code == 405
    assert {m.strip() for m in response.headers["Allow"].split(",")} == allowed
