"""Federated sign-in: the web app as an OpenID Connect client of Cognito's managed login.

"Continue with Google" and "Sign in with your organisation" start an authorization-code flow
with PKCE, `state` and `nonce` from the backend (authlib's OAuth 2.0 client); the callback
checks `state` against the one kept server-side (once: a replay finds nothing), exchanges the
code at the token endpoint with the client secret, and validates the ID token (signature
against the pool's JWKS, issuer, audience, nonce, expiry) with joserfc before anything is
stored. Sign-out revokes the refresh token and ends the managed login's session (`/logout`).

Configuration (absent: the federated buttons are not shown): COGNITO_DOMAIN_URL, the managed
login's base URL (`https://auth.<domain>` in AWS, the local authorization server locally);
WEB_APP_URL, this app's public URL (the callback is WEB_APP_URL/oauth/callback, the sign-out
URL WEB_APP_URL/signin); COGNITO_IDENTITY_PROVIDERS, the providers' names in the user pool
("Google" and the organisation's provider); COGNITO_ISSUER and COGNITO_JWKS_URL default to the
pool's Cognito issuer and its JWKS.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import secrets
import threading
import time
import urllib.parse
from dataclasses import dataclass

import httpx2
from authlib.integrations.base_client import OAuthError
from authlib.integrations.httpx_client import OAuth2Client
from authlib.oauth2 import OAuth2Error
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from .cognito import Tokens
from .settings import Settings, SettingsError, load_settings

CALLBACK_PATH = "/oauth/callback"
SIGNED_OUT_PATH = "/signin"
SCOPE = "openid email profile"
# A sign-in that has not come back after this long is refused (the user starts again).
PENDING_LIFETIME_SECONDS = 10 * 60
# Clock skew accepted on the ID token's exp and iat.
LEEWAY_SECONDS = 60
HTTP_TIMEOUT_SECONDS = 10

GOOGLE = "Google"
# The buttons' keys -> what the page shows.
BUTTON_LABELS = {"google": "Continue with Google", "organisation": "Sign in with your organisation"}

# What the callback page says; one sentence each, nothing internal.
EXPIRED_OR_REPLAYED = (
    "This sign-in is not valid any more: it was already used, it expired, or it was started "
    "in another window. Start again."
)
PROVIDER_REFUSED = "The sign-in was cancelled or refused. Start again, or use your password."
CODE_REFUSED = "The sign-in service refused this sign-in (the link may have been used already)."
UNVERIFIED_ANSWER = "The sign-in answer could not be verified; nobody was signed in. Start again."
UNAVAILABLE = "The sign-in service cannot be reached right now. Try again in a moment."


class FederationRefused(Exception):
    """The callback is refused; the message is for the user."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason  # for logs and tests: state, provider, code, id_token, network


@dataclass(frozen=True)
class OAuthSettings:
    domain_url: str
    client_id: str
    client_secret: str | None = dataclasses.field(repr=False)
    web_app_url: str
    issuer: str
    jwks_url: str
    providers: tuple[str, ...]

    @property
    def redirect_uri(self) -> str:
        return self.web_app_url + CALLBACK_PATH

    @property
    def signed_out_uri(self) -> str:
        return self.web_app_url + SIGNED_OUT_PATH

    def provider_for(self, button: str) -> str | None:
        """The user pool's provider name behind a button, or None if it is not offered."""
        if button == "google":
            return GOOGLE if GOOGLE in self.providers else None
        if button == "organisation":
            return next((name for name in self.providers if name != GOOGLE), None)
        return None

    @property
    def buttons(self) -> list[str]:
        return [key for key in BUTTON_LABELS if self.provider_for(key)]


def _url(name: str, value: str) -> str:
    parts = urllib.parse.urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise SettingsError(f"{name}={value} is not an http(s) URL")
    return value.rstrip("/")


def load_oauth_settings(settings: Settings, environ=None) -> OAuthSettings | None:
    """The federated sign-in's settings, or None when COGNITO_DOMAIN_URL is not set."""
    environ = os.environ if environ is None else environ
    domain = (environ.get("COGNITO_DOMAIN_URL") or "").strip()
    if not domain:
        return None
    domain = _url("COGNITO_DOMAIN_URL", domain)
    web_app_url = _url("WEB_APP_URL", (environ.get("WEB_APP_URL") or "").strip())
    cognito_issuer = (
        f"https://cognito-idp.{settings.aws_region}.amazonaws.com/{settings.user_pool_id}"
    )
    issuer = (environ.get("COGNITO_ISSUER") or "").strip() or cognito_issuer
    jwks_url = (environ.get("COGNITO_JWKS_URL") or "").strip() or issuer + "/.well-known/jwks.json"
    if settings.app_env != "local":
        # In AWS only the pool's own issuer and keys are trusted, over https.
        if issuer != cognito_issuer or jwks_url != cognito_issuer + "/.well-known/jwks.json":
            raise SettingsError("COGNITO_ISSUER / COGNITO_JWKS_URL must be the user pool's own")
        if not (domain.startswith("https://") and web_app_url.startswith("https://")):
            raise SettingsError("COGNITO_DOMAIN_URL and WEB_APP_URL must use https")
    providers = tuple(
        name.strip()
        for name in (environ.get("COGNITO_IDENTITY_PROVIDERS") or "").split(",")
        if name.strip()
    )
    return OAuthSettings(
        domain_url=domain,
        client_id=settings.app_client_id,
        client_secret=settings.app_client_secret,
        web_app_url=web_app_url,
        issuer=issuer,
        jwks_url=_url("COGNITO_JWKS_URL", jwks_url),
        providers=providers,
    )


@dataclass(frozen=True)
class PendingSignIn:
    """What the backend keeps between the redirect to the managed login and the callback."""

    state: str
    nonce: str
    code_verifier: str
    started_at: float


@dataclass(frozen=True)
class FederatedTokens:
    tokens: Tokens
    email: str
    claims: dict


class FederatedSignIn:
    """The OpenID Connect client: authorization URL, callback checks, revocation, logout."""

    def __init__(self, settings: OAuthSettings) -> None:
        self.settings = settings
        self._keys: KeySet | None = None
        self._keys_lock = threading.Lock()

    def _client(self, **extra) -> OAuth2Client:
        return OAuth2Client(
            client_id=self.settings.client_id,
            client_secret=self.settings.client_secret,
            token_endpoint_auth_method=(
                "client_secret_basic" if self.settings.client_secret else "none"
            ),
            redirect_uri=self.settings.redirect_uri,
            scope=SCOPE,
            code_challenge_method="S256",
            timeout=HTTP_TIMEOUT_SECONDS,
            **extra,
        )

    def begin(self, provider: str) -> tuple[str, PendingSignIn]:
        """The managed login's URL for `provider` and what to keep until the callback."""
        verifier = secrets.token_urlsafe(64)
        nonce = secrets.token_urlsafe(32)
        with self._client() as client:
            url, state = client.create_authorization_url(
                self.settings.domain_url + "/oauth2/authorize",
                code_verifier=verifier,
                nonce=nonce,
                identity_provider=provider,
            )
        return url, PendingSignIn(state, nonce, verifier, time.time())

    def finish(self, pending: PendingSignIn | None, params: dict[str, str]) -> FederatedTokens:
        """Check the callback's parameters, exchange the code and validate the ID token.

        Raises FederationRefused; the caller forgets `pending` whatever happens.
        """
        state = params.get("state") or ""
        if (
            pending is None
            or not state
            or not secrets.compare_digest(state, pending.state)
            or time.time() - pending.started_at > PENDING_LIFETIME_SECONDS
        ):
            raise FederationRefused(EXPIRED_OR_REPLAYED, "state")
        if params.get("error"):
            raise FederationRefused(PROVIDER_REFUSED, "provider")
        code = params.get("code") or ""
        if not code:
            raise FederationRefused(PROVIDER_REFUSED, "provider")
        try:
            with self._client() as client:
                token = client.fetch_token(
                    self.settings.domain_url + "/oauth2/token",
                    grant_type="authorization_code",
                    code=code,
                    code_verifier=pending.code_verifier,
                )
        except (OAuthError, OAuth2Error) as error:
            raise FederationRefused(CODE_REFUSED, "code") from error
        except httpx2.HTTPError as error:
            raise FederationRefused(UNAVAILABLE, "network") from error
        claims = self.validate_id_token(token.get("id_token") or "", pending.nonce)
        if not token.get("access_token") or not token.get("refresh_token"):
            raise FederationRefused(UNVERIFIED_ANSWER, "id_token")
        expires_in = int(token.get("expires_in") or 3600)
        tokens = Tokens(
            access_token=token["access_token"],
            id_token=token["id_token"],
            refresh_token=token["refresh_token"],
            expires_at=time.time() + expires_in,
        )
        return FederatedTokens(tokens=tokens, email=claims.get("email", ""), claims=claims)

    def validate_id_token(self, id_token: str, nonce: str) -> dict:
        """The ID token's claims, once signature, issuer, audience, nonce and expiry hold."""
        registry = jwt.JWTClaimsRegistry(
            leeway=LEEWAY_SECONDS,
            iss={"essential": True, "value": self.settings.issuer},
            aud={"essential": True, "value": self.settings.client_id},
            nonce={"essential": True, "value": nonce},
            exp={"essential": True},
            sub={"essential": True},
            token_use={"essential": True, "value": "id"},
        )
        try:
            decoded = jwt.decode(id_token, self._jwks(), algorithms=["RS256"])
            registry.validate(decoded.claims)
        except (JoseError, ValueError) as error:
            raise FederationRefused(UNVERIFIED_ANSWER, "id_token") from error
        except httpx2.HTTPError as error:
            raise FederationRefused(UNAVAILABLE, "network") from error
        return decoded.claims

    def _jwks(self) -> KeySet:
        with self._keys_lock:
            if self._keys is None:
                response = httpx2.get(self.settings.jwks_url, timeout=HTTP_TIMEOUT_SECONDS)
                response.raise_for_status()
                self._keys = KeySet.import_key_set(response.json())
            return self._keys

    def revoke(self, refresh_token: str) -> None:
        """Revoke the refresh token at the managed login (best effort: sign-out goes on)."""
        with self._client() as client:
            client.revoke_token(
                self.settings.domain_url + "/oauth2/revoke",
                token=refresh_token,
                token_type_hint="refresh_token",  # noqa: S106 - a hint name, not a secret
            )

    def logout_url(self) -> str:
        """Cognito's /logout: ends the managed login's session, then comes back here."""
        query = urllib.parse.urlencode(
            {"client_id": self.settings.client_id, "logout_uri": self.settings.signed_out_uri}
        )
        return f"{self.settings.domain_url}/logout?{query}"


@functools.cache
def federation() -> FederatedSignIn | None:
    """The app's OpenID Connect client, or None when it offers no federated sign-in."""
    oauth_settings = load_oauth_settings(load_settings())
    return FederatedSignIn(oauth_settings) if oauth_settings else None
