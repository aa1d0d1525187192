"""The web app's sentences are for the chat API's own error codes (chatbot_common.wire)."""

from __future__ import annotations

from chatbot_common.wire import ERROR_CODES
from web_ui.chat_api import FRIENDLY_MESSAGES

# Failures the client itself observes before any answer of the API.
CLIENT_SIDE_CODES = {"network", "timeout"}


def test_every_friendly_message_is_for_a_code_the_api_sends_or_the_client_sees():
    assert set(FRIENDLY_MESSAGES) - CLIENT_SIDE_CODES <= set(ERROR_CODES)


def test_every_temporary_failure_of_the_api_has_a_sentence():
    temporary = {code for code, status in ERROR_CODES.items() if status in (429, 502, 503, 504)}
    # auth_unavailable (the JWKS could not be fetched) shows the API's own message, which
    # already says to try again.
    assert temporary - {"auth_unavailable"} <= set(FRIENDLY_MESSAGES)
