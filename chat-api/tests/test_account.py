"""The caller's account over HTTP: settings, the mood timeline, the export of everything and
the deletion of everything (proven by scanning every table of the local stack)."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import boto3
import httpx
import pytest

from chat_api.ids import id_floor, new_id
from chatbot_common.aws import LOCAL_CREDENTIALS
from local_stack.aws_bootstrap import sign_in
from local_stack.harness import PASSWORD
from local_stack.processes import feedback_runner_process
from support import chat, new_user, rate


def _client(stack, service: str):
    return boto3.client(
        service,
        endpoint_url=stack.aws_url,
        region_name=stack.config["AWS_REGION"],
        **LOCAL_CREDENTIALS,
    )


# --- settings ------------------------------------------------------------------------------------


def test_settings_default_and_change(api, fresh_user, openapi_validator):
    response = api.get("/me/settings", headers=fresh_user.headers)
    assert response.status_code == 200
    assert response.json() == {"mood_timeline": True}
    changed = api.patch("/me/settings", json={"mood_timeline": False}, headers=fresh_user.headers)
    assert changed.status_code == 200
    openapi_validator("SettingsOut", changed.json())
    assert changed.json() == {"mood_timeline": False}
    assert api.get("/me/settings", headers=fresh_user.headers).json() == {"mood_timeline": False}


@pytest.mark.parametrize(
    "body", [{"mood_timeline": "no"}, {"mood_timeline": 0}, {"theme": "dark"}, []]
)
def test_bad_settings_are_refused_and_change_nothing(api, fresh_user, body):
    response = api.patch("/me/settings", json=body, headers=fresh_user.headers)
    assert response.status_code == 422
    assert api.get("/me/settings", headers=fresh_user.headers).json() == {"mood_timeline": True}


# --- moods ---------------------------------------------------------------------------------------


def _backdated_turn(stack, user, cid: str, when: datetime, label: str) -> None:
    """A user message of `when` written straight into the table (a week cannot be waited for),
    shaped like the ones the API stores."""
    db, table = _client(stack, "dynamodb"), stack.config["CONVERSATIONS_TABLE"]
    message_id = id_floor(when)[:10] + new_id()[10:]
    created = when.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    db.put_item(
        TableName=table,
        Item={
            "pk": {"S": f"USER#{user.sub}#CONV#{cid}"},
            "sk": {"S": f"MSG#{message_id}"},
            "message_id": {"S": message_id},
            "role": {"S": "user"},
            "text": {"S": f"a {label} message"},
            "created_at": {"S": created},
            "emotion": {"M": {"label": {"S": label}, "scores": {"M": {}}}},
        },
    )


def test_moods_per_day(api, stack, fresh_user, openapi_validator):
    joy = chat(api, fresh_user, "I passed my exam, I am so happy and delighted!")
    cid = joy["conversation_id"]
    chat(api, fresh_user, "I am so sad and lonely, I miss her", cid)
    chat(api, fresh_user, "Wonderful news, I am thrilled and happy!", cid)
    now = datetime.now(UTC)
    three_days_ago = now - timedelta(days=3)
    for label in ("fear", "fear", "anger", "joy"):
        _backdated_turn(stack, fresh_user, cid, three_days_ago, label)
    _backdated_turn(stack, fresh_user, cid, now - timedelta(days=40), "sadness")  # outside

    response = api.get("/me/moods", params={"days": 7}, headers=fresh_user.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    openapi_validator("MoodsOut", body)
    assert body["days"] == 7 and len(body["daily"]) == 7 and body["complete"] is True
    assert body["to"] == now.date().isoformat()
    days = {day["date"]: day for day in body["daily"]}
    today = days[now.date().isoformat()]
    labels = [m["emotion"]["label"] for m in _messages(api, fresh_user, cid) if m["role"] == "user"]
    assert today["messages"] == 3 == labels[-3:].__len__()
    assert today["counts"]["joy"] == labels[-3:].count("joy")
    earlier = days[three_days_ago.date().isoformat()]
    assert earlier["messages"] == 4
    assert earlier["counts"] == {
        "anger": 1, "disgust": 0, "fear": 2, "joy": 1, "neutral": 0, "sadness": 0, "surprise": 0
    }  # fmt: skip
    assert earlier["dominant"] == "fear"
    assert earlier["negative_share"] == 0.75
    empty = days[(now - timedelta(days=1)).date().isoformat()]
    assert empty == {
        "date": empty["date"],
        "messages": 0,
        "counts": dict.fromkeys(empty["counts"], 0),
        "dominant": None,
        "negative_share": None,
    }
    assert body["totals"]["messages"] == 7
    # The 30-day default leaves out the message of 40 days ago too; 60 days takes it in.
    assert api.get("/me/moods", headers=fresh_user.headers).json()["totals"]["messages"] == 7
    wide = api.get("/me/moods", params={"days": 60}, headers=fresh_user.headers).json()
    assert wide["totals"]["messages"] == 8


def _messages(api, user, cid):
    return api.get(f"/conversations/{cid}", headers=user.headers).json()["messages"]


def test_the_conversation_carries_its_emotion_trajectory(api, fresh_user, openapi_validator):
    first = chat(api, fresh_user, "This smell is disgusting, gross!")
    cid = first["conversation_id"]
    chat(api, fresh_user, "I am terrified of the dark", cid)
    detail = api.get(f"/conversations/{cid}", headers=fresh_user.headers).json()
    openapi_validator("ConversationDetail", detail)
    trajectory = detail["emotion_trajectory"]
    assert [p["label"] for p in trajectory] == ["disgust", "fear"]
    assert trajectory[0]["message_id"] == first["user_message_id"]


def test_a_timeline_turned_off_is_not_served(api, fresh_user):
    cid = chat(api, fresh_user, "I am terrified of the dark")["conversation_id"]
    api.patch("/me/settings", json={"mood_timeline": False}, headers=fresh_user.headers)
    refused = api.get("/me/moods", headers=fresh_user.headers)
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "mood_timeline_off"
    detail = api.get(f"/conversations/{cid}", headers=fresh_user.headers).json()
    assert "emotion_trajectory" not in detail
    api.patch("/me/settings", json={"mood_timeline": True}, headers=fresh_user.headers)
    assert api.get("/me/moods", headers=fresh_user.headers).status_code == 200


@pytest.mark.parametrize("days", ["0", "91", "-1", "7.5", "²", "abc", ""])
def test_bad_mood_windows_are_refused(api, alice, days):
    response = api.get("/me/moods", params={"days": days}, headers=alice.headers)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_parameter"


def test_moods_never_mix_users(api, fresh_user, bob):
    chat(api, fresh_user, "I am furious, this is outrageous!")
    before = api.get("/me/moods", headers=bob.headers).json()["totals"]
    chat(api, fresh_user, "I am furious again, outrageous!")
    assert api.get("/me/moods", headers=bob.headers).json()["totals"] == before


# --- export of everything ------------------------------------------------------------------------


def test_export_everything_is_streamed_json(api, stack, fresh_user, bob):
    first = chat(api, fresh_user, "I am worried about my exam")
    cid = first["conversation_id"]
    chat(api, fresh_user, "and about the results", cid)
    second = chat(api, fresh_user, "another conversation")
    api.post(
        "/feedback",
        json={"conversation_id": cid, "message_id": first["message_id"], "rating": "down"},
        headers=fresh_user.headers,
    )
    api.patch("/me/settings", json={"mood_timeline": False}, headers=fresh_user.headers)
    chat(api, bob, "bob's own words")
    with api.stream("GET", "/me/export", headers=fresh_user.headers) as response:
        assert response.status_code == 200
        assert "chunked" in response.headers.get("transfer-encoding", "")
        assert "attachment" in response.headers["content-disposition"]
        raw = b"".join(response.iter_bytes())
    exported = json.loads(raw)
    assert exported["user"]["user_id"] == fresh_user.sub
    assert exported["settings"] == {"mood_timeline": False}
    assert exported["profile"]["mood_timeline"] is False
    by_id = {c["conversation_id"]: c for c in exported["conversations"]}
    assert set(by_id) == {cid, second["conversation_id"]}
    messages = by_id[cid]["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "user", "assistant"]
    assert messages[0]["emotion"]["label"] == "fear"
    assert messages[1]["feedback"]["rating"] == "down"
    assert "bob's own words" not in raw.decode()
    assert isinstance(exported["ratings"], list)


# --- deletion of everything ----------------------------------------------------------------------


def _items_of(stack, user) -> dict[str, list]:
    """Every item of every table of the local stack that refers to the user."""
    db = _client(stack, "dynamodb")
    found: dict[str, list] = {}
    for table in db.list_tables()["TableNames"]:
        for page in db.get_paginator("scan").paginate(TableName=table):
            for item in page["Items"]:
                text = json.dumps(item)
                if user.sub in text or user.email in text:
                    found.setdefault(table, []).append(item)
    return found


@pytest.fixture
def feedback_ingestion(stack, tmp_path):
    """The feedback queue's consumer (the Chalice handler), so ratings reach their table."""
    runner = feedback_runner_process(stack.config, log_path=tmp_path / "runner.log")
    with runner.start():
        yield


def _wait_for(condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def test_delete_me_leaves_nothing_of_the_user(api, stack, feedback_ingestion, openapi_validator):
    user = new_user(stack)
    other = new_user(stack)
    # A profile, as the sign-up trigger writes it (moto runs no triggers).
    _client(stack, "dynamodb").put_item(
        TableName=stack.config["PROFILES_TABLE"],
        Item={"user_id": {"S": user.sub}, "email": {"S": user.email}, "tier": {"S": "free"}},
    )
    turns = []
    for n in range(3):
        turns.append(chat(api, user, f"conversation number {n}, I feel anxious"))
    # A turn sent with an idempotency key leaves a turn key (its own partition) for 24 hours.
    keyed = api.post(
        "/chat",
        json={"message": "a second turn", "conversation_id": turns[0]["conversation_id"]},
        headers={**user.headers, "Idempotency-Key": "retry-me-1"},
    )
    assert keyed.status_code == 200
    for turn in turns:
        rated = rate(api, user, turn)
        assert rated.status_code == 202
    api.patch("/me/settings", json={"mood_timeline": False}, headers=user.headers)
    kept = chat(api, other, "the other user's conversation")
    feedback_table = stack.config["FEEDBACK_TABLE"]
    _wait_for(lambda: len(_items_of(stack, user).get(feedback_table, [])) == 3)
    before = _items_of(stack, user)
    assert set(before) >= {
        stack.config["CONVERSATIONS_TABLE"],
        feedback_table,
        stack.config["PROFILES_TABLE"],
    }
    others_before = _items_of(stack, other)
    turn_key = f"USER#{user.sub}#TURN_KEY#retry-me-1"
    assert any(item["pk"]["S"] == turn_key for item in before[stack.config["CONVERSATIONS_TABLE"]])

    response = api.delete("/me", headers=user.headers)
    assert response.status_code == 204
    assert _items_of(stack, user) == {}
    assert _items_of(stack, other) == others_before  # nobody else's data was touched
    # The sign-in is gone too.
    cognito = _client(stack, "cognito-idp")
    with pytest.raises(cognito.exceptions.ClientError):
        sign_in(
            stack.aws_url,
            stack.config["AWS_REGION"],
            stack.config["COGNITO_APP_CLIENT_ID"],
            user.email,
            PASSWORD,
        )
    # Idempotent: again (a retried call) is a 204 with nothing left to do.
    assert api.delete("/me", headers=user.headers).status_code == 204
    assert (
        api.get(f"/conversations/{kept['conversation_id']}", headers=other.headers).status_code
        == 200
    )


def test_an_interrupted_deletion_is_finished_by_a_retry(api, stack, start_api):
    """The first call stops half-way (its profiles table does not exist): the conversations
    are gone, the rest is not; the retry against the right configuration finishes the job."""
    user = new_user(stack)
    _client(stack, "dynamodb").put_item(
        TableName=stack.config["PROFILES_TABLE"],
        Item={"user_id": {"S": user.sub}, "email": {"S": user.email}},
    )
    for n in range(2):
        chat(api, user, f"to be deleted {n}")
    broken = start_api(PROFILES_TABLE="no-such-profiles-table")
    failed = httpx.delete(broken.url + "/api/v1/me", headers=user.headers, timeout=30)
    assert failed.status_code == 503
    assert failed.json()["error"]["code"] == "storage_unavailable"
    left = _items_of(stack, user)
    assert list(left) == [stack.config["PROFILES_TABLE"]]  # the conversations went first
    assert api.delete("/me", headers=user.headers).status_code == 204
    assert _items_of(stack, user) == {}


def test_delete_me_needs_a_token(api):
    response = api.delete("/me")
    assert response.status_code == 401
