"""Cognito access-token validation against the user pool's JWKS."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps

import urllib3
from flask import current_app, g, request
from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from .errors import Unauthorized

log = logging.getLogger(__name__)
ALGORITHMS = ["RS256"]


@dataclass(frozen=True)
class Principal:
    user_id: str  # the Cognito `sub`, stable for the user's lifetime
    username: str


class JwksCache:
    """Keeps the pool's signing keys; fetches again on an unknown `kid`, at most so often."""

    def __init__(self, url: str, *, min_refresh_seconds: float, timeout: float = 3.0):
        self._url = url
        self._min_refresh = min_refresh_seconds
        self._http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=timeout, read=timeout), retries=False
        )
        self._lock = threading.Lock()
        self._keys: KeySet | None = None
        self._fetched_at = float("-inf")

    def key_set_for(self, kid: str | None) -> KeySet:
        keys = self._keys
        if keys is not None and _has_kid(keys, kid):
            return keys
        with self._lock:
            if self._keys is None or (
                not _has_kid(self._keys, kid)
                and time.monotonic() - self._fetched_at >= self._min_refresh
            ):
                self._keys = self._fetch()
            return self._keys

    def _fetch(self) -> KeySet:
        self._fetched_at = time.monotonic()
        try:
            response = self._http.request("GET", self._url)
            if response.status != 200:
                raise ValueError(f"HTTP {response.status}")
            keys = KeySet.import_key_set(json.loads(response.data))
        except Exception as exc:  # any failure leaves the caller unauthenticated, never in
            log.error("jwks fetch failed", extra={"error": str(exc)})
            if self._keys is not None:
                return self._keys
            raise Unauthorized("The token signing keys are unavailable.") from None
        log.info("jwks fetched", extra={"keys": len(keys.keys)})
        return keys


def _has_kid(keys: KeySet, kid: str | None) -> bool:
    return kid is not None and any(key.kid == kid for key in keys.keys)


class TokenVerifier:
    def __init__(
        self, *, issuer: str, client_id: str, jwks: JwksCache, leeway_seconds: int
    ) -> None:
        self._jwks = jwks
        self._claims = jwt.JWTClaimsRegistry(
            leeway=leeway_seconds,
            iss={"essential": True, "value": issuer},
            client_id={"essential": True, "value": client_id},
            token_use={"essential": True, "value": "access"},
            sub={"essential": True},
            exp={"essential": True},
        )

    def verify(self, token: str) -> Principal:
        try:
            header = jws.extract_compact(token.encode("ascii")).protected
            if header.get("alg") not in ALGORITHMS:
                raise Unauthorized("The token's algorithm is not accepted.")
            keys = self._jwks.key_set_for(header.get("kid"))
            if not _has_kid(keys, header.get("kid")):
                raise Unauthorized("The token was not signed by a key of the user pool.")
            decoded = jwt.decode(token, keys, algorithms=ALGORITHMS)
            self._claims.validate(decoded.claims)
        except Unauthorized:
            raise
        except (JoseError, ValueError, UnicodeError) as exc:
            raise Unauthorized(_describe(exc)) from None
        claims = decoded.claims
        return Principal(user_id=claims["sub"], username=str(claims.get("username", "")))


def _describe(exc: Exception) -> str:
    name = type(exc).__name__
    if name == "ExpiredTokenError":
        return "The token has expired."
    if name in ("InvalidClaimError", "MissingClaimError"):
        return f"The token's claims are not accepted ({exc})."
    if name == "BadSignatureError":
        return "The token's signature is not valid."
    return "The token is malformed."


def require_user(view: Callable) -> Callable:
    @wraps(view)
    def wrapper(*args, **kwargs):
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("An Authorization: Bearer <access token> header is required.")
        principal = current_app.extensions["token_verifier"].verify(token.strip())
        g.user_id = principal.user_id
        g.principal = principal
        return view(*args, **kwargs)

    return wrapper
