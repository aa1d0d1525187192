"""History: list (newest first, paginated), read, delete; one user never sees another's."""

from __future__ import annotations


def _chat(api, user, message: str, conversation_id: str | None = None) -> dict:
    body = {"message": message}
    if conversation_id:
        body["conversation_id"] = conversation_id
    response = api.post("/chat", json=body, headers=user.headers)
    assert response.status_code == 200, response.text
    return response.json()


def test_list_is_newest_first_and_paginated(api, fresh_user, openapi_validator):
    ids = [_chat(api, fresh_user, f"message number {n}")["conversation_id"] for n in range(5)]
    _chat(api, fresh_user, "back to the first one", ids[0])  # activity moves it to the top
    expected = [ids[0], ids[4], ids[3], ids[2], ids[1]]

    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = api.get("/conversations", params=params, headers=fresh_user.headers).json()
        openapi_validator("ConversationList", page)
        assert len(page["conversations"]) <= 2
        seen += [c["conversation_id"] for c in page["conversations"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == expected
    first = api.get("/conversations", headers=fresh_user.headers).json()["conversations"][0]
    assert first["title"] == "message number 0"
    assert first["message_count"] == 4
    assert first["last_emotion"] == "neutral"


def test_detail_has_messages_with_emotions(api, fresh_user, openapi_validator):
    turn = _chat(api, fresh_user, "This smell is disgusting, gross!")
    detail = api.get(f"/conversations/{turn['conversation_id']}", headers=fresh_user.headers)
    assert detail.status_code == 200
    body = detail.json()
    openapi_validator("ConversationDetail", body)
    user_message, reply = body["messages"]
    assert user_message["emotion"]["label"] == "disgust"
    assert user_message["message_id"] == turn["user_message_id"]
    assert reply["text"] == turn["reply"] and reply["model_id"] == turn["model_id"]


def test_delete_removes_the_conversation_and_its_messages(api, fresh_user):
    turn = _chat(api, fresh_user, "delete me later")
    keep = _chat(api, fresh_user, "keep me")
    cid = turn["conversation_id"]
    assert api.delete(f"/conversations/{cid}", headers=fresh_user.headers).status_code == 204
    assert api.get(f"/conversations/{cid}", headers=fresh_user.headers).status_code == 404
    assert api.delete(f"/conversations/{cid}", headers=fresh_user.headers).status_code == 404
    listed = api.get("/conversations", headers=fresh_user.headers).json()["conversations"]
    assert [c["conversation_id"] for c in listed] == [keep["conversation_id"]]
    response = api.post(
        "/chat",
        json={"message": "still there?", "conversation_id": cid},
        headers=fresh_user.headers,
    )
    assert response.status_code == 404


def test_history_is_isolated_between_users(api, fresh_user, bob):
    mine = _chat(api, fresh_user, "only for me")
    bobs = api.get("/conversations", headers=bob.headers).json()["conversations"]
    assert mine["conversation_id"] not in [c["conversation_id"] for c in bobs]
    # Bob cannot page into Alice's listing with a cursor taken from hers.
    _chat(api, fresh_user, "second")
    page = api.get("/conversations", params={"limit": 1}, headers=fresh_user.headers).json()
    stolen = api.get("/conversations", params={"cursor": page["next_cursor"]}, headers=bob.headers)
    assert stolen.status_code == 400
    assert stolen.json()["error"]["code"] == "invalid_parameter"
