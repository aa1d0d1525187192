"""The managed login's state: the pool's app clients as registered OAuth clients, the users
signed in here (their tokens come from moto's Cognito API), authorization codes, and the calls
to the local user pool (sign-in, single sign-on renewal, revocation). Served by auth_server.py.
"""

from __future__ import annotations

import base64
import gzip
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from importlib import resources

import boto3
from authlib.oauth2.rfc6749 import ClientMixin
from botocore.exceptions import ClientError
from joserfc.jwk import RSAKey

from chatbot_common.aws import LOCAL_CREDENTIALS
from local_stack.aws_bootstrap import FEDERATED_USER_EMAIL, secret_hash


def pool_signing_key() -> RSAKey:
    """The private key moto signs every pool's tokens with (its JWKS serves the public half)."""
    resource = resources.files("moto.cognitoidp") / "resources" / "jwks-private.json.gz"
    if resource.is_file():
        data = gzip.decompress(resource.read_bytes())
    else:
        data = (resources.files("moto.cognitoidp") / "resources" / "jwks-private.json").read_bytes()
    return RSAKey.import_key(json.loads(data))


@dataclass
class RegisteredClient(ClientMixin):
    """An app client of the pool, as Cognito's managed login sees it."""

    client_id: str
    client_secret: str
    callback_urls: list[str]
    logout_urls: list[str]
    flows: list[str]
    scopes: list[str]
    providers: list[str]

    @classmethod
    def from_cognito(cls, described: dict) -> RegisteredClient:
        return cls(
            client_id=described["ClientId"],
            client_secret=described.get("ClientSecret", ""),
            callback_urls=list(described.get("CallbackURLs") or []),
            logout_urls=list(described.get("LogoutURLs") or []),
            flows=list(described.get("AllowedOAuthFlows") or []),
            scopes=list(described.get("AllowedOAuthScopes") or []),
            providers=list(described.get("SupportedIdentityProviders") or []),
        )

    def get_client_id(self):
        return self.client_id

    def get_default_redirect_uri(self):
        return None  # Cognito wants redirect_uri in every request

    def get_allowed_scope(self, scope):
        if not scope:
            return ""
        return " ".join(part for part in scope.split() if part in self.scopes)

    def check_redirect_uri(self, redirect_uri):
        return redirect_uri in self.callback_urls  # exact match, as Cognito

    def check_client_secret(self, client_secret):
        return bool(self.client_secret) and secrets.compare_digest(
            client_secret, self.client_secret
        )

    def check_endpoint_auth_method(self, method, endpoint):
        if self.client_secret:
            return method in ("client_secret_basic", "client_secret_post")
        return method == "none"

    def check_response_type(self, response_type):
        return response_type == "code" and "code" in self.flows

    def check_grant_type(self, grant_type):
        return grant_type == "authorization_code" and "code" in self.flows


@dataclass
class SignedInUser:
    """A user signed in at this server: the pool's tokens from moto and their ID claims."""

    claims: dict
    tokens: dict
    provider: str = "COGNITO"
    auth_time: int = field(default_factory=lambda: int(time.time()))

    def get_user_id(self):
        return self.claims["sub"]


@dataclass
class AuthorizationCode:
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    user: SignedInUser
    expires_at: float

    def get_redirect_uri(self):
        return self.redirect_uri

    def get_scope(self):
        return self.scope

    def get_nonce(self):
        return self.nonce

    def get_auth_time(self):
        return self.user.auth_time

    def get_acr(self):
        return None

    def get_amr(self):
        return None


def _unverified_claims(token: str) -> dict:
    # moto's own token, fetched a moment ago over the local endpoint: only its claims are read.
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


class LocalManagedLogin:
    """The server's state: codes, sign-in sessions, and the calls to the local user pool."""

    def __init__(self, *, aws_endpoint: str, region: str, pool_id: str, issuer: str, jwks_url):
        self.region = region
        self.pool_id = pool_id
        self.issuer = issuer
        self.jwks_url = jwks_url
        self.key = pool_signing_key()
        self.cognito = boto3.session.Session(**LOCAL_CREDENTIALS, region_name=region).client(
            "cognito-idp", endpoint_url=aws_endpoint
        )
        self.codes: dict[str, AuthorizationCode] = {}
        # Sign-in sessions by the id in the browser's cookie: the user and their refresh token.
        self.sessions: dict[str, SignedInUser] = {}
        self.nonces: set[tuple[str, str]] = set()
        # Refresh tokens handed out by the token endpoint, for revocation.
        self.issued: dict[str, SignedInUser] = {}
        self.lock = threading.Lock()

    def query_client(self, client_id: str) -> RegisteredClient | None:
        if not client_id:
            return None
        try:
            described = self.cognito.describe_user_pool_client(
                UserPoolId=self.pool_id, ClientId=client_id
            )["UserPoolClient"]
        except ClientError:
            return None
        return RegisteredClient.from_cognito(described)

    def password_sign_in(self, client: RegisteredClient, email: str, password: str):
        """The pool's tokens for `email`, or None when the pool refuses the password."""
        parameters = {"USERNAME": email, "PASSWORD": password}
        if client.client_secret:
            parameters["SECRET_HASH"] = secret_hash(client.client_secret, client.client_id, email)
        try:
            response = self.cognito.initiate_auth(
                ClientId=client.client_id,
                AuthFlow="USER_PASSWORD_AUTH",
                AuthParameters=parameters,
            )
        except ClientError:
            return None
        result = response.get("AuthenticationResult")
        if result is None:  # a challenge, e.g. two-step sign-in: not offered here
            return None
        return SignedInUser(claims=_unverified_claims(result["IdToken"]), tokens=result)

    def federated_sign_in(self, client: RegisteredClient, provider: str) -> SignedInUser:
        """The federated test user, as if `provider` had vouched for them."""
        password = "Fed-" + secrets.token_urlsafe(18) + "1!"
        self.cognito.admin_set_user_password(
            UserPoolId=self.pool_id, Username=FEDERATED_USER_EMAIL, Password=password,
            Permanent=True,
        )  # fmt: skip
        user = self.password_sign_in(client, FEDERATED_USER_EMAIL, password)
        if user is None:
            raise RuntimeError("the federated test user cannot sign in")
        user.provider = provider
        return user

    def renew(self, client: RegisteredClient, user: SignedInUser) -> SignedInUser | None:
        """Fresh tokens for a user signed in earlier (single sign-on), or None if revoked."""
        # The SECRET_HASH of a refresh is over the name used at sign-in (moto) or the pool's
        # own username (Cognito): try both.
        names = dict.fromkeys(
            filter(None, [user.claims.get("email"), user.claims.get("cognito:username")])
        )
        result = None
        for username in names or [""]:
            parameters = {"REFRESH_TOKEN": user.tokens["RefreshToken"]}
            if client.client_secret:
                parameters["SECRET_HASH"] = secret_hash(
                    client.client_secret, client.client_id, username
                )
            try:
                result = self.cognito.initiate_auth(
                    ClientId=client.client_id,
                    AuthFlow="REFRESH_TOKEN_AUTH",
                    AuthParameters=parameters,
                )["AuthenticationResult"]
                break
            except ClientError:
                continue
        if result is None:
            return None
        tokens = {**result, "RefreshToken": user.tokens["RefreshToken"]}
        return SignedInUser(
            claims=_unverified_claims(result["IdToken"]), tokens=tokens, provider=user.provider
        )

    def revoke(self, refresh_token: str, client: RegisteredClient) -> None:
        """moto has no RevokeToken: sign the token's user out everywhere instead (that revokes
        every refresh token of the user, this one included). Unknown tokens are ignored, as
        RFC 7009 asks."""
        with self.lock:
            user = self.issued.pop(refresh_token, None)
        if user is None:
            return
        renewed = self.renew(client, user)
        if renewed is not None:
            self.cognito.global_sign_out(AccessToken=renewed.tokens["AccessToken"])
