"""JSON log lines: one event a line, with the request id."""

from __future__ import annotations

import json
import logging
import threading

import pytest

from chatbot_common import logs


@pytest.fixture
def lines(capsys):
    # The handler writes to whatever sys.stderr is when a line is logged: here pytest's capture.
    logger = logs.configure("chatbot_common_test", level="DEBUG", stream="stderr")
    logs.bind_request_id(None)
    yield logger, lambda: [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    logger.handlers.clear()


def test_a_line_has_time_level_logger_message_and_the_extra_fields(lines):
    logger, read = lines
    logger.info("stored", extra={"table": "t", "count": 3})
    (line,) = read()
    assert line["level"] == "INFO" and line["logger"] == "chatbot_common_test"
    assert line["message"] == "stored" and line["table"] == "t" and line["count"] == 3
    assert line["time"].endswith("+00:00") and "request_id" not in line


def test_the_bound_request_id_tags_lines_and_an_explicit_one_wins(lines):
    logger, read = lines
    logs.bind_request_id("req-1")
    logger.info("one")
    logger.info("two", extra={"request_id": "req-2"})
    assert [line["request_id"] for line in read()] == ["req-1", "req-2"]


def test_the_request_id_belongs_to_its_own_thread(lines):
    logger, read = lines
    logs.bind_request_id("main")

    def other():
        logger.info("other thread")

    thread = threading.Thread(target=other)
    thread.start()
    thread.join()
    assert "request_id" not in read()[0]


def test_a_message_with_markup_or_newlines_stays_one_json_line(lines):
    logger, read = lines
    logger.warning('<script>alert(1)</script>\n{"level": "ERROR"}')
    (line,) = read()
    assert line["level"] == "WARNING"
    assert line["message"] == '<script>alert(1)</script>\n{"level": "ERROR"}'


def test_an_exception_is_kept_in_the_line(lines):
    logger, read = lines
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        logger.exception("failed")
    (line,) = read()
    assert "RuntimeError: boom" in line["exception"]


def test_a_custom_request_id_source_is_used():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "m", (), None)
    assert json.loads(logs.JsonFormatter(lambda: "from-source").format(record))["request_id"] == (
        "from-source"
    )


@pytest.mark.parametrize(("raw", "level"), [("debug", "DEBUG"), (" ", "INFO"), ("LOUD", "INFO")])
def test_level_names_fall_back_to_info(raw, level):
    assert logs.level_name(raw) == level
