"""The Server-Sent Events parser against the format's own cases."""

from __future__ import annotations

import pytest

from chatbot_common.sse import Event, iter_events, json_events


def test_events_end_at_blank_lines_and_data_lines_join_with_newlines():
    lines = ["event: token", 'data: {"text": "a"}', "", "data: one", "data: two", "", ""]
    assert list(iter_events(lines)) == [
        Event("token", '{"text": "a"}'),
        Event("message", "one\ntwo"),
    ]


def test_comments_ids_and_carriage_returns():
    lines = [": keep-alive\r", "id: 7\r", "event: done\r", "data: {}\r", "\r"]
    assert list(iter_events(lines)) == [Event("done", "{}", "7")]


def test_only_one_space_after_the_colon_is_dropped():
    assert list(iter_events(["data:  two spaces", ""])) == [Event("message", " two spaces")]


def test_an_event_without_data_is_not_dispatched_and_a_last_one_without_blank_line_is():
    assert list(iter_events(["event: nothing", "", "event: last", "data: 1"])) == [
        Event("last", "1")
    ]


def test_json_events_decode_each_event_and_refuse_a_broken_one():
    assert list(json_events(["event: meta", 'data: {"a": 1}', ""])) == [("meta", {"a": 1})]
    with pytest.raises(ValueError):
        list(json_events(["event: meta", "data: {broken", ""]))


def test_markup_in_data_is_returned_as_text():
    (event,) = iter_events(["event: token", 'data: {"text": "<img src=x onerror=alert(1)>"}', ""])
    assert event.json() == {"text": "<img src=x onerror=alert(1)>"}
