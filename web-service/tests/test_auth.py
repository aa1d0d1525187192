"""Every token defect is refused with 401 and `WWW-Authenticate: Bearer error="invalid_token"`."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import pytest
from joserfc.jwk import RSAKey

from support import moto_key


def _assert_refused(response) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    assert response.json()["error"]["code"] == "invalid_token"


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def test_a_real_cognito_access_token_is_accepted(api, alice):
    response = api.get("/conversations", headers=alice.headers)
    assert response.status_code == 200


def test_a_minted_token_with_correct_claims_is_accepted(api, mint_token):
    # The control for the defect tests below: the same minting with nothing wrong passes.
    response = api.get("/conversations", headers={"Authorization": f"Bearer {mint_token()}"})
    assert response.status_code == 200


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="missing"),
        pytest.param({"Authorization": "Bearer"}, id="empty-bearer"),
        pytest.param({"Authorization": "Basic dXNlcjpwYXNz"}, id="basic-scheme"),
        pytest.param({"Authorization": "Bearer not.a.jwt"}, id="garbage"),
    ],
)
def test_missing_or_malformed_header(api, headers):
    _assert_refused(api.get("/conversations", headers=headers))


DEFECTS = {
    "expired": {"exp": int(time.time()) - 3600, "iat": int(time.time()) - 7200},
    "not-yet-valid": {"nbf": int(time.time()) + 3600},
    "wrong-issuer": {"iss": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Other"},
    "wrong-client": {"client_id": "someone-elses-client"},
    "id-token-use": {"token_use": "id"},
    "no-token-use": {"token_use": None},
    "no-exp": {"exp": None},
    "no-sub": {"sub": None},
}


@pytest.mark.parametrize("claims", DEFECTS.values(), ids=DEFECTS.keys())
def test_defective_claims(api, mint_token, claims):
    token = mint_token(**claims)
    _assert_refused(api.get("/conversations", headers={"Authorization": f"Bearer {token}"}))


def test_expiry_within_the_leeway_is_accepted(api, mint_token):
    token = mint_token(exp=int(time.time()) - 5)
    assert (
        api.get("/conversations", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    )


def test_a_real_id_token_is_refused(api, alice):
    _assert_refused(
        api.get("/conversations", headers={"Authorization": f"Bearer {alice.id_token}"})
    )


def test_tampered_signature(api, alice):
    header, payload, signature = alice.token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["sub"] = "someone-else"
    tampered = ".".join([header, _b64(claims), signature])
    _assert_refused(api.get("/conversations", headers={"Authorization": f"Bearer {tampered}"}))


def test_signed_by_another_key_with_the_pools_kid(api, mint_token):
    token = mint_token(key=RSAKey.generate_key(2048, parameters={"kid": "dummy"}))
    _assert_refused(api.get("/conversations", headers={"Authorization": f"Bearer {token}"}))


def test_unknown_kid(api, mint_token):
    token = mint_token(
        key=RSAKey.generate_key(2048, parameters={"kid": "rotated-away"}),
        header={"kid": "rotated-away"},
    )
    _assert_refused(api.get("/conversations", headers={"Authorization": f"Bearer {token}"}))


def test_alg_none(api, alice):
    _, payload, _ = alice.token.split(".")
    unsigned = f"{_b64({'alg': 'none', 'kid': 'dummy'})}.{payload}."
    _assert_refused(api.get("/conversations", headers={"Authorization": f"Bearer {unsigned}"}))


def test_hs256_with_the_public_key_as_secret(api, alice):
    # The classic algorithm confusion: an HMAC signed with the pool's public key as the secret.
    _, payload, _ = alice.token.split(".")
    header = _b64({"alg": "HS256", "kid": "dummy"})
    secret = moto_key().as_pem(private=False)
    signature = (
        base64.urlsafe_b64encode(
            hmac.new(secret, f"{header}.{payload}".encode(), hashlib.sha256).digest()
        )
        .decode()
        .rstrip("=")
    )
    token = f"{header}.{payload}.{signature}"
    _assert_refused(api.get("/conversations", headers={"Authorization": f"Bearer {token}"}))


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/chat"),
        ("POST", "/chat/stream"),
        ("GET", "/conversations"),
        ("GET", "/conversations/01JBZZZZZZZZZZZZZZZZZZZZZZ"),
        ("DELETE", "/conversations/01JBZZZZZZZZZZZZZZZZZZZZZZ"),
        ("POST", "/feedback"),
        ("GET", "/usage"),
    ],
)
def test_every_user_endpoint_requires_a_token(api, method, path):
    _assert_refused(api.request(method, path, json={"message": "hi"}))


@pytest.mark.parametrize("path", ["/health", "/health/ready", "/openapi.json"])
def test_public_endpoints_need_no_token(api, path):
    assert api.get(path).status_code == 200
