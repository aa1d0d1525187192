"""Cognito access-token validation against the user pool's JWKS."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import wraps

import urllib3
from flask import current_app, g, request
from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from .errors import AuthUnavailable, Unauthorized

log = logging.getLogger(__name__)
ALGORITHMS = ["RS256"]


@dataclass(frozen=True)
class Principal:
    user_id: str  # the Cognito `sub`, stable for the user's lifetime
    username: str
    # The `tier` claim the pre token generation trigger adds to access tokens; None when absent
    # (moto never runs triggers), and then the default tier's limits apply.
    tier: str | None = None


class JwksCache:
    """Keeps the pool's signing keys; fetches again on an unknown `kid`, at most so often.

    When the keys cannot be fetched, a token can be neither accepted nor refused: the answer is
    a 503 with Retry-After (AuthUnavailable), never a 401 that would sign the user out. The
    failure is remembered for `failure_cache_seconds`, so a burst of requests during an outage
    is answered at once instead of each waiting for the fetch to time out.
    """

    def __init__(
        self,
        url: str,
        *,
        min_refresh_seconds: float,
        timeout: float = 3.0,
        failure_cache_seconds: float = 5.0,
    ):
        self._url = url
        self._min_refresh = min_refresh_seconds
        self._failure_cache = failure_cache_seconds
        self._failed_until = float("-inf")
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
                self._keys = self._fetch(kid)
            return self._keys

    def _fetch(self, kid: str | None) -> KeySet:
        now = time.monotonic()
        if now < self._failed_until:
            return self._after_failure(kid)
        self._fetched_at = now
        try:
            response = self._http.request("GET", self._url)
            if response.status != 200:
                raise ValueError(f"HTTP {response.status}")
            keys = KeySet.import_key_set(json.loads(response.data))
        except Exception as exc:  # any failure leaves the caller unauthenticated, never in
            log.error("jwks fetch failed", extra={"error": str(exc)})
            self._failed_until = time.monotonic() + self._failure_cache
            return self._after_failure(kid)
        self._failed_until = float("-inf")
        log.info("jwks fetched", extra={"keys": len(keys.keys)})
        return keys

    def _after_failure(self, kid: str | None) -> KeySet:
        # The keys held still decide tokens signed by them; a token with another `kid` may be
        # signed by a rotated key that cannot be fetched now, so it is not refused for good.
        if self._keys is not None and _has_kid(self._keys, kid):
            return self._keys
        retry_after = max(1, int(self._failed_until - time.monotonic() + 0.999))
        raise AuthUnavailable(retry_after=retry_after)


def _has_kid(keys: KeySet, kid: str | None) -> bool:
    return kid is not None and any(key.kid == kid for key in keys.keys)


class TokenVerifier:
    """Accepts the pool's access tokens issued to one of `client_ids` (its app clients that may
    call the API); a token of any other client of the pool is refused like a forged one."""

    def __init__(
        self,
        *,
        issuer: str,
        client_ids: Sequence[str],
        jwks: JwksCache,
        leeway_seconds: int,
    ) -> None:
        if not client_ids:
            raise ValueError("at least one app client id is required")
        self._jwks = jwks
        self._claims = jwt.JWTClaimsRegistry(
            leeway=leeway_seconds,
            iss={"essential": True, "value": issuer},
            client_id={"essential": True, "values": list(client_ids)},
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
            # Cognito writes one client id; joserfc would also match an id inside a list.
            if not isinstance(decoded.claims["client_id"], str):
                raise Unauthorized("The token's claims are not accepted (client_id).")
        except (Unauthorized, AuthUnavailable):
            raise
        except (JoseError, ValueError, UnicodeError) as exc:
            raise Unauthorized(_describe(exc)) from None
        claims = decoded.claims
        tier = claims.get("tier")
        return Principal(
            user_id=claims["sub"],
            username=str(claims.get("username", "")),
            tier=tier if isinstance(tier, str) else None,
        )


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
