"""The chat API's errors are the wire's: every error class has its code and status in
chatbot_common.wire.ERROR_CODES, which the web app reads too."""

from __future__ import annotations

from chat_api import bedrock, errors
from chatbot_common.wire import ERROR_CODES, LIMIT_CODES


def _error_classes():
    found, pending = [], [errors.ApiError]
    while pending:
        cls = pending.pop()
        found.append(cls)
        pending.extend(cls.__subclasses__())
    return found


def test_every_error_class_has_its_code_and_status_on_the_wire():
    assert bedrock.GuardrailIntervened in _error_classes()
    for cls in _error_classes():
        assert ERROR_CODES.get(cls.code) == cls.status, cls.__name__
    for code in errors.Conflict.codes:
        assert ERROR_CODES.get(code) == errors.Conflict.status, code


def test_every_code_on_the_wire_is_raised_by_some_error_class():
    raised = {cls.code for cls in _error_classes()} | set(errors.Conflict.codes)
    # Werkzeug's own HTTP errors reach the client through the same shape under these codes.
    werkzeug = {"not_found", "method_not_allowed"}
    assert set(ERROR_CODES) - raised <= werkzeug


def test_every_default_sentence_belongs_to_a_code_on_the_wire():
    assert set(errors.MESSAGES) <= set(ERROR_CODES)


def test_the_limit_codes_are_429s():
    assert {ERROR_CODES[code] for code in LIMIT_CODES} == {429}
