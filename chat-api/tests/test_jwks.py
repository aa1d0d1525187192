"""The JWKS cache: fetched once, fetched again on an unknown kid at most so often."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from joserfc.jwk import KeySet, RSAKey

from chat_api.auth import JwksCache
from chat_api.errors import AuthUnavailable


@pytest.fixture
def jwks_server():
    state = {"keys": KeySet([RSAKey.generate_key(2048, parameters={"kid": "k1"})]), "hits": 0}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            state["hits"] += 1
            if state.get("down"):
                self.send_response(500)
                self.end_headers()
                return
            body = json.dumps(state["keys"].as_dict(private=False)).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state["url"] = f"http://127.0.0.1:{server.server_address[1]}/jwks.json"
    yield state
    server.shutdown()


def test_known_kid_is_served_from_cache(jwks_server):
    cache = JwksCache(jwks_server["url"], min_refresh_seconds=60)
    for _ in range(5):
        assert cache.key_set_for("k1").get_by_kid("k1")
    assert jwks_server["hits"] == 1


def test_unknown_kid_refetches_at_most_once_per_interval(jwks_server):
    cache = JwksCache(jwks_server["url"], min_refresh_seconds=60)
    cache.key_set_for("k1")
    for _ in range(10):
        cache.key_set_for("unknown")
    assert jwks_server["hits"] == 1  # within the interval: no refetch storm


def test_rotated_key_is_found_after_the_interval(jwks_server):
    cache = JwksCache(jwks_server["url"], min_refresh_seconds=0)
    cache.key_set_for("k1")
    jwks_server["keys"] = KeySet([RSAKey.generate_key(2048, parameters={"kid": "k2"})])
    keys = cache.key_set_for("k2")
    assert [key.kid for key in keys.keys] == ["k2"]
    assert jwks_server["hits"] == 2


def test_unreachable_jwks_refuses_rather_than_accepts(jwks_server):
    jwks_server["down"] = True
    with pytest.raises(AuthUnavailable):
        JwksCache(jwks_server["url"], min_refresh_seconds=0).key_set_for("k1")


def test_a_failed_fetch_is_remembered_briefly(jwks_server):
    jwks_server["down"] = True
    cache = JwksCache(jwks_server["url"], min_refresh_seconds=0, failure_cache_seconds=60)
    for _ in range(5):
        with pytest.raises(AuthUnavailable) as refused:
            cache.key_set_for("k1")
        assert 1 <= int(refused.value.headers["Retry-After"]) <= 60
    assert jwks_server["hits"] == 1


def test_the_keys_come_back_after_the_failure_window(jwks_server):
    jwks_server["down"] = True
    cache = JwksCache(jwks_server["url"], min_refresh_seconds=0, failure_cache_seconds=0)
    with pytest.raises(AuthUnavailable):
        cache.key_set_for("k1")
    jwks_server["down"] = False
    assert cache.key_set_for("k1").get_by_kid("k1")


def test_held_keys_still_serve_their_tokens_during_an_outage(jwks_server):
    cache = JwksCache(jwks_server["url"], min_refresh_seconds=0, failure_cache_seconds=60)
    cache.key_set_for("k1")
    jwks_server["down"] = True
    assert cache.key_set_for("k1").get_by_kid("k1")  # no fetch needed
    with pytest.raises(AuthUnavailable):  # maybe a rotated key: not refused for good
        cache.key_set_for("k2")
