"""Unit tests of the federated sign-in's state (web_ui/federated.py), one handler at a
time; the flow itself is proven against the real servers in test_oauth_flow.py and in
test_browser_federated.py."""

from __future__ import annotations

import json
import urllib.parse

import pytest
import reflex as rx
from settings_env import GOOD_ENV
from state_fixtures import drain, substate

from web_ui import federated as federated_module
from web_ui.federated import FederatedState
from web_ui.oauth import EXPIRED_OR_REPLAYED, FederatedSignIn, load_oauth_settings
from web_ui.settings import load_settings
from web_ui.state import AuthState

# The federated sign-in's settings as the app reads them, from the shared valid environment.
ENV = {
    **GOOD_ENV,
    "COGNITO_DOMAIN_URL": "https://auth.example.com",
    "WEB_APP_URL": "https://chat.example.com",
    "COGNITO_IDENTITY_PROVIDERS": "Google",
}
SETTINGS = load_oauth_settings(load_settings(ENV), ENV)


@pytest.fixture
def root(monkeypatch):
    client = FederatedSignIn(SETTINGS)
    monkeypatch.setattr(federated_module, "federation", lambda: client)
    return rx.State(_reflex_internal_init=True)


def test_start_keeps_the_flows_secrets_on_the_server(root):
    state = substate(root, FederatedState)
    (event,) = drain(state.start("google"))
    url = event.args[0][1]._js_expr.strip('"')
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
    assert url.startswith("https://auth.example.com/oauth2/authorize?")
    assert query["identity_provider"] == "Google"
    assert query["state"] == state._pending_state
    sent_to_browser = json.dumps(root.dict(), default=str)
    assert state._pending_nonce not in sent_to_browser
    assert state._pending_verifier not in sent_to_browser


def test_an_option_the_deployment_does_not_offer_is_refused(root):
    state = substate(root, FederatedState)
    assert drain(state.start("organisation")) == [None]  # no enterprise provider here
    assert state.refusal == "That sign-in option is not available."
    assert state._pending_state == ""


def test_a_callback_without_the_matching_state_stores_nothing(root):
    state = substate(root, FederatedState)
    drain(state.start("google"))
    drain(state.finish())  # the router carries no state: a forged or foreign callback
    assert state.refusal == EXPIRED_OR_REPLAYED
    assert state._pending_state == "" and state._pending_verifier == ""
    auth = substate(root, AuthState)
    assert not auth.signed_in and auth._session_key == "" and auth.session_ticket == ""
