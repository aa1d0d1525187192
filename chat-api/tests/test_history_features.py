"""Search, rename, titles, regenerate, edit and export over HTTP against Gunicorn; another
user's ids give 404 and bad input a 4xx that changes nothing."""

from __future__ import annotations

import json
from contextlib import contextmanager

import boto3
import httpx
import pytest

from chat_api.ids import new_id
from chatbot_common.aws import LOCAL_CREDENTIALS
from support import chat, iter_sse, open_stream, sse_events


@contextmanager
def _past_meta(api, user, message: str):
    """A /chat/stream turn held open once its meta event is read: (meta, the events to come)."""
    with open_stream(api, user, message) as response:
        events = iter_sse(response)
        name, meta = next(events)
        assert name == "meta"
        yield meta, events


def _detail(api, user, cid: str) -> dict:
    response = api.get(f"/conversations/{cid}", headers=user.headers)
    assert response.status_code == 200, response.text
    return response.json()


def _search(api, user, q: str, **params) -> list[dict]:
    """Every match, following next_cursor to the end."""
    found, cursor = [], None
    while True:
        query = {"q": q, **params, **({"cursor": cursor} if cursor else {})}
        response = api.get("/conversations", params=query, headers=user.headers)
        assert response.status_code == 200, response.text
        page = response.json()
        found += page["conversations"]
        cursor = page["next_cursor"]
        if not cursor:
            return found


# --- titles --------------------------------------------------------------------------------------


@pytest.fixture
def titled_api(start_api):
    """A chat API with model titles on (the suite's servers run without them)."""
    server = start_api(TITLE_MAX_TOKENS="24")
    with httpx.Client(base_url=server.url + "/api/v1", timeout=30) as client:
        yield client


def test_a_new_conversation_gets_the_models_short_title(
    titled_api, fresh_user, model, openapi_validator
):
    api = titled_api
    turn = chat(api, fresh_user, "I am so worried about my driving exam tomorrow morning")
    request = model.last_request()
    assert "write a title" in request["system"]
    detail = _detail(api, fresh_user, turn["conversation_id"])
    openapi_validator("ConversationDetail", detail)
    # The local model titles with up to four words of the first message, capitalised.
    assert detail["title"] == "Worried About Driving Exam"
    assert detail["title_source"] == "model"
    # The reply and the title: two model calls; a later turn asks for no title.
    assert model.stats()["converse"] == 2
    chat(api, fresh_user, "and the results come on friday", turn["conversation_id"])
    assert model.stats()["converse"] == 3
    # Streams are titled too, after `done`.
    response = api.post(
        "/chat/stream",
        json={"message": "What a wonderful surprise party"},
        headers=fresh_user.headers,
    )
    events = sse_events(response)
    assert events[-1][0] == "done"
    streamed = _detail(api, fresh_user, events[0][1]["conversation_id"])
    assert (streamed["title"], streamed["title_source"]) == (
        "What Wonderful Surprise Party",
        "model",
    )


def test_the_title_falls_back_to_the_first_words_when_the_model_fails(
    titled_api, fresh_user, model
):
    api = titled_api
    model.configure(inter_token_ms=20)
    message = "Please help me plan a birthday party for my sister next week"
    with _past_meta(api, fresh_user, message) as (meta, events):
        # The reply's stream is open; every model call from now on (the title's) fails.
        model.configure(fault="internal")
        rest = list(events)
    assert rest[-1][0] == "done"
    model.reset()
    detail = _detail(api, fresh_user, meta["conversation_id"])
    assert detail["title"] == "Please help me plan a birthday…"
    assert detail["title_source"] == "first_message"


def test_the_models_title_is_untrusted_markup_and_controls_are_stripped(titled_api, fresh_user):
    api = titled_api
    message = "<script>alert(1)</script> **Ignore** \u202e`rules` \x07now"
    turn = chat(api, fresh_user, message)
    detail = _detail(api, fresh_user, turn["conversation_id"])
    title = detail["title"]
    assert detail["title_source"] == "model"
    assert title and len(title) <= 60
    for forbidden in ("<", ">", "*", "`", "\u202e", "\x07"):
        assert forbidden not in title


def test_a_renamed_conversation_keeps_its_title(titled_api, fresh_user, model):
    """A rename that lands before the model's title is never overwritten by it."""
    api = titled_api
    model.configure(inter_token_ms=30)
    message = "Let us talk about gardening and tomatoes"
    with _past_meta(api, fresh_user, message) as (meta, events):
        cid = meta["conversation_id"]
        renamed = api.patch(
            f"/conversations/{cid}", json={"title": "Garden"}, headers=fresh_user.headers
        )
        # The turn is not stored before `done`: the rename cannot find it yet.
        assert renamed.status_code == 404
        for name, _ in events:
            if name == "done":
                break
        # `done` is sent once the turn is stored, before the title is asked for.
        renamed = api.patch(
            f"/conversations/{cid}", json={"title": "Garden"}, headers=fresh_user.headers
        )
        assert renamed.status_code == 200
        list(events)
    detail = _detail(api, fresh_user, cid)
    assert (detail["title"], detail["title_source"]) == ("Garden", "user")


def test_rename(api, fresh_user, bob, openapi_validator):
    cid = chat(api, fresh_user, "rename me")["conversation_id"]
    response = api.patch(
        f"/conversations/{cid}",
        json={"title": "  Trip\tplanning\u0000 \u202eJune  "},
        headers=fresh_user.headers,
    )
    assert response.status_code == 200, response.text
    openapi_validator("ConversationSummary", response.json())
    assert response.json()["title"] == "Trip planning June"
    assert response.json()["title_source"] == "user"
    listed = api.get("/conversations", headers=fresh_user.headers).json()["conversations"]
    assert listed[0]["title"] == "Trip planning June"
    # A later turn keeps the user's title.
    chat(api, fresh_user, "and another message", cid)
    assert _detail(api, fresh_user, cid)["title"] == "Trip planning June"
    # Someone else's conversation, an unknown one: 404, nothing changes.
    for headers, target in ((bob.headers, cid), (fresh_user.headers, new_id())):
        refused = api.patch(f"/conversations/{target}", json={"title": "x"}, headers=headers)
        assert refused.status_code == 404
    assert _detail(api, fresh_user, cid)["title"] == "Trip planning June"


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"title": ""}, 422),
        ({"title": "x" * 121}, 422),
        ({"title": "\u0000\u0001 \t"}, 422),  # nothing printable left
        ({"title": 5}, 422),
        ({"title": "ok", "extra": 1}, 422),
        ({}, 422),
    ],
)
def test_bad_renames_are_refused_and_change_nothing(api, alice, body, status):
    cid = chat(api, alice, "keep my title")["conversation_id"]
    before = _detail(api, alice, cid)["title"]
    response = api.patch(f"/conversations/{cid}", json=body, headers=alice.headers)
    assert response.status_code == status
    assert response.json()["error"]["code"] == "validation_error"
    assert _detail(api, alice, cid)["title"] == before


# --- search --------------------------------------------------------------------------------------


def test_search_finds_titles_and_message_text_case_and_accent_insensitively(
    api, fresh_user, bob, openapi_validator
):
    cafe = chat(api, fresh_user, "We met at the Café Zürich last spring")["conversation_id"]
    other = chat(api, fresh_user, "Something unrelated entirely")["conversation_id"]
    chat(api, fresh_user, "later I ordered a STRAßE sandwich", other)
    renamed = chat(api, fresh_user, "nothing to see")["conversation_id"]
    api.patch(
        f"/conversations/{renamed}",
        json={"title": "Sommerfête ideas"},
        headers=fresh_user.headers,
    )

    page = api.get("/conversations", params={"q": "cafe zurich"}, headers=fresh_user.headers)
    assert page.status_code == 200
    openapi_validator("ConversationList", page.json())
    hits = page.json()["conversations"]
    assert [h["conversation_id"] for h in hits] == [cafe]
    assert hits[0]["match"]["field"] in ("title", "message")

    strasse = _search(api, fresh_user, "strasse")
    assert [h["conversation_id"] for h in strasse] == [other]
    assert strasse[0]["match"]["field"] == "message"
    assert "STRAßE" in strasse[0]["match"]["snippet"]

    ete = _search(api, fresh_user, "sommerfete")
    assert [h["conversation_id"] for h in ete] == [renamed]
    assert ete[0]["match"] == {
        "field": "title",
        "message_id": None,
        "snippet": "Sommerfête ideas",
    }

    assert _search(api, fresh_user, "no such words anywhere") == []
    # Another user's history is never searched.
    assert _search(api, bob, "cafe zurich") == []


def test_search_is_paginated(api, fresh_user):
    ids = [chat(api, fresh_user, f"needle number {n}")["conversation_id"] for n in range(5)]
    found, cursor, pages = [], None, 0
    while True:
        params = {"q": "NEEDLE", "limit": 2, **({"cursor": cursor} if cursor else {})}
        page = api.get("/conversations", params=params, headers=fresh_user.headers).json()
        assert len(page["conversations"]) <= 2
        found += [c["conversation_id"] for c in page["conversations"]]
        pages += 1
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert found == ids[::-1]
    assert pages >= 3


def test_search_reads_a_bounded_number_of_messages_per_request(stack, api, fresh_user):
    """A long history is searched over several requests: each stops at its bound and hands
    back a cursor, and the match is found further on."""
    from chat_api import search

    db = boto3.client(
        "dynamodb",
        endpoint_url=stack.aws_url,
        region_name=stack.config["AWS_REGION"],
        **LOCAL_CREDENTIALS,
    )
    table = stack.config["CONVERSATIONS_TABLE"]
    target = chat(api, fresh_user, "the old one with the word quasar")["conversation_id"]
    # Newer conversations (listed first) full of messages that do not match.
    for n in range(5):
        cid = chat(api, fresh_user, f"filler conversation {n}")["conversation_id"]
        with_items = [
            {
                "PutRequest": {
                    "Item": {
                        "pk": {"S": f"USER#{fresh_user.sub}#CONV#{cid}"},
                        "sk": {"S": f"MSG#{new_id()}"},
                        "message_id": {"S": "x"},
                        "role": {"S": "user"},
                        "text": {"S": "filler text"},
                        "created_at": {"S": "2026-01-01T00:00:00.000Z"},
                    }
                }
            }
            for _ in range(25)
        ]
        for _ in range(24):  # 600 messages each
            db.batch_write_item(RequestItems={table: with_items})
            for item in with_items:
                item["PutRequest"]["Item"]["sk"] = {"S": f"MSG#{new_id()}"}
    first = api.get("/conversations", params={"q": "quasar"}, headers=fresh_user.headers).json()
    # 5 x 500 messages read at most per conversation: the bound stops the first request.
    assert search.SEARCH_MESSAGES_PER_REQUEST < 5 * search.SEARCH_MESSAGES_PER_CONVERSATION
    assert first["conversations"] == [] and first["next_cursor"]
    assert [h["conversation_id"] for h in _search(api, fresh_user, "quasar")] == [target]


@pytest.mark.parametrize(
    "params",
    [
        {"q": ""},
        {"q": "   "},
        {"q": "x" * 101},
        {"q": ["a", "b"]},
        {"q": "ok", "limit": "0"},
        {"q": "ok", "cursor": "not a cursor!"},
        {"q": "ok", "sort": "title"},
    ],
)
def test_bad_search_parameters_are_refused(api, alice, params):
    response = api.get("/conversations", params=params, headers=alice.headers)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_parameter"


def test_a_search_cursor_of_another_user_is_refused(api, fresh_user, bob):
    for n in range(3):
        chat(api, fresh_user, f"shared word zebra {n}")
    page = api.get(
        "/conversations", params={"q": "zebra", "limit": 1}, headers=fresh_user.headers
    ).json()
    assert page["next_cursor"]
    stolen = api.get(
        "/conversations", params={"q": "zebra", "cursor": page["next_cursor"]}, headers=bob.headers
    )
    assert stolen.status_code == 400


# --- regenerate and edit -------------------------------------------------------------------------


def _rate(api, user, cid: str, message_id: str) -> None:
    response = api.post(
        "/feedback",
        json={"conversation_id": cid, "message_id": message_id, "rating": "up"},
        headers=user.headers,
    )
    assert response.status_code == 202, response.text


def test_regenerate_replaces_the_last_reply_and_its_rating(api, fresh_user, openapi_validator):
    first = chat(api, fresh_user, "Tell me about the sea")
    cid = first["conversation_id"]
    second = chat(api, fresh_user, "I feel so sad and lonely tonight", cid)
    _rate(api, fresh_user, cid, second["message_id"])
    before = _detail(api, fresh_user, cid)

    response = api.post(f"/conversations/{cid}/regenerate", headers=fresh_user.headers)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = sse_events(response)
    assert [name for name, _ in events][0] == "meta" and events[-1][0] == "done"
    meta = events[0][1]
    openapi_validator("StreamMeta", meta)
    assert meta["user_message_id"] == second["user_message_id"]
    assert meta["message_id"] != second["message_id"]
    assert meta["emotion"]["label"] == "sadness"
    text = "".join(data["text"] for name, data in events if name == "delta")

    after = _detail(api, fresh_user, cid)
    assert after["message_count"] == before["message_count"] == 4
    ids = [m["message_id"] for m in after["messages"]]
    assert ids[:3] == [m["message_id"] for m in before["messages"][:3]]
    assert ids[3] == meta["message_id"]
    assert after["messages"][3]["text"] == text
    assert "feedback" not in after["messages"][3]  # the old reply's rating went with it
    assert second["message_id"] not in ids


def test_edit_replaces_the_last_message_and_streams_a_new_reply(api, fresh_user):
    first = chat(api, fresh_user, "hello there")
    cid = first["conversation_id"]
    last = chat(api, fresh_user, "I am happy today", cid)
    response = api.post(
        f"/conversations/{cid}/edit",
        json={"message_id": last["user_message_id"], "message": "I am terrified of tomorrow"},
        headers=fresh_user.headers,
    )
    assert response.status_code == 200
    events = sse_events(response)
    assert events[-1][0] == "done"
    assert events[0][1]["emotion"]["label"] == "fear"
    detail = _detail(api, fresh_user, cid)
    assert detail["message_count"] == 4
    edited, reply = detail["messages"][2:]
    assert edited["message_id"] == last["user_message_id"]
    assert edited["text"] == "I am terrified of tomorrow"
    assert edited["emotion"]["label"] == "fear" and edited["edited_at"]
    assert reply["message_id"] == events[0][1]["message_id"]
    assert detail["last_emotion"] == "fear"
    assert [p["label"] for p in detail["emotion_trajectory"]][-1] == "fear"


def test_an_earlier_message_cannot_be_edited(api, fresh_user):
    first = chat(api, fresh_user, "the first message")
    cid = first["conversation_id"]
    chat(api, fresh_user, "the second message", cid)
    before = _detail(api, fresh_user, cid)
    response = api.post(
        f"/conversations/{cid}/edit",
        json={"message_id": first["user_message_id"], "message": "changed"},
        headers=fresh_user.headers,
    )
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "not_last_message"
    assert "earlier messages cannot" in error["message"]
    # A reply is not a message of the user's either.
    response = api.post(
        f"/conversations/{cid}/edit",
        json={"message_id": first["message_id"], "message": "changed"},
        headers=fresh_user.headers,
    )
    assert response.status_code == 409
    unknown = api.post(
        f"/conversations/{cid}/edit",
        json={"message_id": new_id(), "message": "changed"},
        headers=fresh_user.headers,
    )
    assert unknown.status_code == 404
    assert _detail(api, fresh_user, cid)["messages"] == before["messages"]


@pytest.mark.parametrize(
    "body",
    [
        {"message_id": "nope", "message": "x"},
        {"message": "x"},
        {"message_id": "01ARZ3NDEKTSV4RRFFQ69G5FAV", "message": "   "},
        {"message_id": "01ARZ3NDEKTSV4RRFFQ69G5FAV", "message": "x" * 4001},
    ],
)
def test_bad_edits_are_refused(api, alice, body):
    cid = chat(api, alice, "edit target")["conversation_id"]
    response = api.post(f"/conversations/{cid}/edit", json=body, headers=alice.headers)
    assert response.status_code == 422


def test_another_users_conversation_cannot_be_regenerated_edited_or_exported(api, alice, bob):
    turn = chat(api, alice, "mine alone")
    cid = turn["conversation_id"]
    before = _detail(api, alice, cid)
    assert api.post(f"/conversations/{cid}/regenerate", headers=bob.headers).status_code == 404
    edit = api.post(
        f"/conversations/{cid}/edit",
        json={"message_id": turn["user_message_id"], "message": "hijack"},
        headers=bob.headers,
    )
    assert edit.status_code == 404
    assert api.get(f"/conversations/{cid}/export", headers=bob.headers).status_code == 404
    assert api.get(f"/conversations/{cid}", headers=bob.headers).status_code == 404
    assert _detail(api, alice, cid)["messages"] == before["messages"]


def test_regenerate_counts_against_the_limits(start_api, stack, fresh_user):
    import httpx

    limits = {"messages_per_minute": 2, "tokens_per_day": 10**9, "concurrent_streams": 5}
    server = start_api(USAGE_TIERS=json.dumps({"free": limits}))
    with httpx.Client(base_url=server.url + "/api/v1", timeout=30) as client:
        cid = chat(client, fresh_user, "one")["conversation_id"]
        ok = client.post(f"/conversations/{cid}/regenerate", headers=fresh_user.headers)
        assert ok.status_code == 200
        sse_events(ok)
        before = _detail(client, fresh_user, cid)["messages"]
        refused = client.post(f"/conversations/{cid}/regenerate", headers=fresh_user.headers)
        assert refused.status_code == 429
        assert refused.json()["error"]["code"] == "rate_limited"
        assert _detail(client, fresh_user, cid)["messages"] == before


def test_a_failed_regeneration_leaves_the_turn_as_it_was(api, fresh_user, model):
    turn = chat(api, fresh_user, "keep this reply")
    cid = turn["conversation_id"]
    before = _detail(api, fresh_user, cid)["messages"]
    model.configure(fault="mid_stream", fault_count=1)
    response = api.post(f"/conversations/{cid}/regenerate", headers=fresh_user.headers)
    if response.status_code == 200:
        assert sse_events(response)[-1][0] == "error"
    else:
        assert response.status_code >= 500
    assert _detail(api, fresh_user, cid)["messages"] == before


# --- export --------------------------------------------------------------------------------------


def test_export_one_conversation_as_json_and_markdown(api, fresh_user):
    first = chat(api, fresh_user, "This is *disgusting*, gross! # not a heading")
    cid = first["conversation_id"]
    _rate(api, fresh_user, cid, first["message_id"])
    response = api.get(f"/conversations/{cid}/export", headers=fresh_user.headers)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert f'conversation-{cid}.json"' in response.headers["content-disposition"]
    exported = response.json()
    assert exported["conversation_id"] == cid
    user_message, reply = exported["messages"]
    assert user_message["text"] == "This is *disgusting*, gross! # not a heading"
    assert user_message["emotion"]["label"] == "disgust"
    assert reply["feedback"] == {"rating": "up", "comment": None}

    markdown = api.get(
        f"/conversations/{cid}/export", params={"format": "markdown"}, headers=fresh_user.headers
    )
    assert markdown.status_code == 200
    assert markdown.headers["content-type"].startswith("text/markdown")
    assert f'conversation-{cid}.md"' in markdown.headers["content-disposition"]
    text = markdown.text
    assert text.startswith("# ")
    assert "emotion: disgust" in text and "rated up" in text
    assert "~~~~\nThis is *disgusting*, gross! # not a heading\n~~~~" in text
    assert reply["text"] in text


@pytest.mark.parametrize("params", [{"format": "pdf"}, {"format": ""}, {"as": "json"}])
def test_bad_export_parameters_are_refused(api, alice, params):
    cid = chat(api, alice, "export me")["conversation_id"]
    response = api.get(f"/conversations/{cid}/export", params=params, headers=alice.headers)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_parameter"
