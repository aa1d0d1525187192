"""The local stack's authorization server: Cognito's managed login, for the local user pool.

moto has no managed login, so this server speaks its endpoints on its own port:
`/oauth2/authorize` (authorization code with PKCE and OpenID Connect's nonce), `/oauth2/token`,
`/oauth2/revoke`, `/logout` and `/.well-known/openid-configuration`. It is built with authlib's
server components. The registered clients are the pool's own app clients: their callback and
sign-out URLs, OAuth flows, scopes and identity providers are read from the local AWS endpoint
(moto), exactly as Cognito reads them from the app client.

The tokens are the pool's: the access and refresh tokens come from moto's Cognito API
(USER_PASSWORD_AUTH), so the chat API accepts them unchanged. The ID token carries the claims
of moto's ID token plus `nonce`, `auth_time` and `at_hash`, signed with the pool's key (moto's
one RSA key, `kid` "dummy"), so it verifies against the pool's JWKS like Cognito's.

A plain sign-in page serves the pool's users (e-mail and password) and, for each identity
provider of the client (Google, the organisation's), a stand-in page that signs in the
"federated" test user. Local only: anybody can mint tokens with moto's published key.
"""

from __future__ import annotations

import argparse
import base64
import gzip
import html
import json
import secrets
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from importlib import resources

import boto3
from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import ClientMixin, InvalidRequestError, grants
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import UserInfo
from authlib.oidc.core import grants as oidc_grants
from botocore.exceptions import ClientError
from flask import Flask, Response, redirect, request, session
from joserfc.jwk import RSAKey

from chatbot_common.aws import LOCAL_CREDENTIALS
from local_stack.aws_bootstrap import FEDERATED_USER_EMAIL, secret_hash

FEDERATED_USER_NAME = "Federated Test User"
CODE_LIFETIME_SECONDS = 300
ID_TOKEN_LIFETIME_SECONDS = 15 * 60
SESSION_COOKIE = "cognito"


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


class AuthorizationCodeGrant(grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]

    def save_authorization_code(self, code, request):
        login: LocalManagedLogin = self.server.login
        nonce = request.payload.data.get("nonce")
        with login.lock:
            if nonce:
                login.nonces.add((request.client.client_id, nonce))
            login.codes[code] = AuthorizationCode(
                code=code,
                client_id=request.client.client_id,
                redirect_uri=request.payload.redirect_uri,
                scope=request.payload.scope or "",
                nonce=nonce,
                code_challenge=request.payload.data.get("code_challenge"),
                code_challenge_method=request.payload.data.get("code_challenge_method"),
                user=request.user,
                expires_at=time.time() + CODE_LIFETIME_SECONDS,
            )

    def query_authorization_code(self, code, client):
        login: LocalManagedLogin = self.server.login
        with login.lock:
            found = login.codes.get(code)
        if found and found.client_id == client.client_id and found.expires_at > time.time():
            return found
        return None

    def delete_authorization_code(self, authorization_code):
        # Codes are single use: the first exchange removes it, a second one is invalid_grant.
        login: LocalManagedLogin = self.server.login
        with login.lock:
            login.codes.pop(authorization_code.code, None)

    def authenticate_user(self, authorization_code):
        return authorization_code.user


class OpenIDCode(oidc_grants.OpenIDCode):
    def __init__(self, login: LocalManagedLogin):
        super().__init__(require_nonce=True)
        self.login = login

    def exists_nonce(self, nonce, request):
        # A nonce is used once per client: once a code was issued for it, a replayed
        # authorization request is refused.
        with self.login.lock:
            return (request.payload.client_id, nonce) in self.login.nonces

    def resolve_client_private_key(self, client):
        return self.login.key

    def get_client_algorithm(self, client):
        return "RS256"

    def get_encode_header(self, client):
        return {"alg": "RS256", "kid": self.login.key.kid or "dummy", "typ": "JWT"}

    def get_client_claims(self, client):
        now = int(time.time())
        return {
            "iss": self.login.issuer,
            "aud": client.client_id,
            "iat": now,
            "exp": now + ID_TOKEN_LIFETIME_SECONDS,
        }

    def generate_user_info(self, user: SignedInUser, scope):
        claims = {
            key: value
            for key, value in user.claims.items()
            if key not in ("iss", "aud", "exp", "iat", "auth_time", "jti", "nonce")
        }
        claims["token_use"] = "id"  # noqa: S105 - a claim, not a password
        if user.provider != "COGNITO":
            # What Cognito adds for a user who signed in through an identity provider.
            claims["identities"] = [
                {
                    "providerName": user.provider,
                    "providerType": "Google" if user.provider == "Google" else "OIDC",
                    "userId": user.claims["sub"],
                    "primary": "true",
                }
            ]
            claims.setdefault("name", FEDERATED_USER_NAME)
        return UserInfo(claims)


class CognitoRevocation(RevocationEndpoint):
    CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]

    def query_token(self, token_string, token_type_hint):
        return {"refresh_token": token_string}

    def revoke_token(self, token, request):
        self.server.login.revoke(token["refresh_token"], request.client)

    def authenticate_token(self, request, client):
        return self.query_token(request.form.get("token"), None)

    def check_params(self, request, client):
        if not request.form.get("token"):
            raise InvalidRequestError("Missing 'token' in request.")


# --- pages -----------------------------------------------------------------------------------

_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:26rem;margin:3rem auto;padding:0 1rem}"
    "label,input,button{display:block;width:100%;margin:.4rem 0;box-sizing:border-box}"
    "input,button{padding:.55rem;font-size:1rem}.error{color:#b00020}"
)


def _origin(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _page(title: str, body: str, status: int = 200, form_targets=()) -> Response:
    document = (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}'
        f"</title><style>{_STYLE}</style></head><body><h1>{html.escape(title)}</h1>{body}"
        "</body></html>"
    )
    response = Response(document, status=status, mimetype="text/html")
    # form-action covers the redirect that answers the form: the app's callback origin.
    targets = " ".join(["'self'", *sorted({_origin(url) for url in form_targets})])
    response.headers["Content-Security-Policy"] = (
        f"default-src 'none'; style-src 'unsafe-inline'; form-action {targets}; "
        "frame-ancestors 'none'"
    )
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Cache-Control"] = "no-store"
    return response


def refusal_page(message: str, status: int = 400) -> Response:
    return _page(
        "Sign-in refused",
        f'<p class="error" role="alert">{html.escape(message)}</p>'
        "<p>Go back to the application and start the sign-in again.</p>",
        status,
    )


def _csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(24)
    return session["csrf"]


def _sign_in_page(client: RegisteredClient, provider: str | None, error: str = "") -> Response:
    action = html.escape(request.full_path.rstrip("?"), quote=True)
    csrf = f'<input type="hidden" name="csrf" value="{html.escape(_csrf_token(), quote=True)}">'
    alert = f'<p class="error" role="alert">{html.escape(error)}</p>' if error else ""
    if provider:
        body = (
            f"<p>Local stand-in for <strong>{html.escape(provider)}</strong>: it vouches for its "
            f"one test user, {html.escape(FEDERATED_USER_EMAIL)}.</p>"
            f'<form method="post" action="{action}">{csrf}'
            f'<input type="hidden" name="federated" value="{html.escape(provider, quote=True)}">'
            f'<button type="submit" id="federated">Continue as {FEDERATED_USER_NAME}</button>'
            "</form>"
        )
        return _page(
            f"Sign in with {provider}", alert + body, 401 if error else 200, client.callback_urls
        )
    providers = "".join(
        f'<button type="submit" name="federated" value="{html.escape(name, quote=True)}">'
        f"Continue with {html.escape(name)}</button>"
        for name in client.providers
        if name != "COGNITO"
    )
    body = (
        f'<form method="post" action="{action}">{csrf}'
        '<label for="email">E-mail address</label>'
        '<input id="email" name="email" type="email" autocomplete="username" required>'
        '<label for="password">Password</label>'
        '<input id="password" name="password" type="password" '
        'autocomplete="current-password" required>'
        '<button type="submit" id="sign-in">Sign in</button></form>'
    )
    if providers:
        body += f'<form method="post" action="{action}">{csrf}{providers}</form>'
    return _page("Sign in", alert + body, 401 if error else 200, client.callback_urls)


def create_app(login: LocalManagedLogin, *, base_url: str) -> Flask:
    app = Flask("local-managed-login")
    app.secret_key = secrets.token_bytes(32)
    app.config.update(SESSION_COOKIE_NAME=SESSION_COOKIE, SESSION_COOKIE_SAMESITE="Lax")
    base_url = base_url.rstrip("/")

    def generate_token(grant_type, client, user=None, scope=None, **_):
        token = {
            "token_type": "Bearer",
            "access_token": user.tokens["AccessToken"],
            "expires_in": int(user.tokens.get("ExpiresIn", 3600)),
            "scope": scope or "",
            "refresh_token": user.tokens["RefreshToken"],
        }
        with login.lock:
            login.issued[user.tokens["RefreshToken"]] = user
        return token

    server = AuthorizationServer(app, query_client=login.query_client, save_token=lambda *a: None)
    server.login = login
    server.register_token_generator("default", generate_token)
    server.register_grant(AuthorizationCodeGrant, [CodeChallenge(required=True), OpenIDCode(login)])
    server.register_endpoint(CognitoRevocation)

    def current_user() -> tuple[str | None, SignedInUser | None]:
        session_id = session.get("sid")
        with login.lock:
            return session_id, login.sessions.get(session_id) if session_id else None

    def remember(user: SignedInUser) -> None:
        session_id = secrets.token_urlsafe(24)
        with login.lock:
            login.sessions[session_id] = user
        session["sid"] = session_id

    def validated_client_and_provider():
        """(client, provider, None) or (None, None, refusal page) for an authorize request."""
        client = login.query_client(request.args.get("client_id", ""))
        if client is None:
            return None, None, refusal_page("The application is not registered here.")
        redirect_uri = request.args.get("redirect_uri", "")
        if not client.check_redirect_uri(redirect_uri):
            # Never redirect to an address the client did not register.
            return None, None, refusal_page("The callback URL is not registered for this app.")
        provider = request.args.get("identity_provider") or None
        if provider and provider not in client.providers:
            return None, None, refusal_page(f"{provider} is not a sign-in option of this app.")
        return client, provider, None

    @app.get("/oauth2/authorize")
    def authorize():
        client, provider, refused = validated_client_and_provider()
        if refused:
            return refused
        try:
            grant = server.get_consent_grant(end_user=None)
        except OAuth2Error as error:
            return refusal_page(error.description or error.error)
        _, user = current_user()
        if user is not None and (provider is None or provider == user.provider):
            renewed = login.renew(client, user)
            if renewed is not None:  # single sign-on: no form while the session lasts
                return server.create_authorization_response(grant_user=renewed, grant=grant)
        return _sign_in_page(client, provider)

    @app.post("/oauth2/authorize")
    def sign_in():
        client, provider, refused = validated_client_and_provider()
        if refused:
            return refused
        if not secrets.compare_digest(request.form.get("csrf", ""), session.get("csrf", "-")):
            return refusal_page("The sign-in form expired. Start again.")
        try:
            grant = server.get_consent_grant(end_user=None)
        except OAuth2Error as error:
            return refusal_page(error.description or error.error)
        federated = request.form.get("federated")
        if federated:
            if federated not in client.providers or (provider and federated != provider):
                return refusal_page(f"{federated} is not a sign-in option of this app.")
            user = login.federated_sign_in(client, federated)
        else:
            email = request.form.get("email", "").strip()
            user = login.password_sign_in(client, email, request.form.get("password", ""))
            if user is None:
                return _sign_in_page(client, None, "The e-mail address or the password is wrong.")
        remember(user)
        return server.create_authorization_response(grant_user=user, grant=grant)

    @app.post("/oauth2/token")
    def token():
        return server.create_token_response()

    @app.post("/oauth2/revoke")
    def revoke():
        return server.create_endpoint_response(CognitoRevocation.ENDPOINT_NAME)

    @app.get("/logout")
    def logout():
        """Cognito's sign-out: end the sign-in session, then go to a registered sign-out URL."""
        client = login.query_client(request.args.get("client_id", ""))
        logout_uri = request.args.get("logout_uri", "")
        if client is None:
            return refusal_page("The application is not registered here.")
        if logout_uri not in client.logout_urls:
            return refusal_page("The sign-out URL is not registered for this app.")
        session_id, _ = current_user()
        with login.lock:
            login.sessions.pop(session_id, None)
        session.clear()
        return redirect(logout_uri, code=302)

    @app.get("/.well-known/openid-configuration")
    def discovery():
        return {
            "issuer": login.issuer,
            "authorization_endpoint": f"{base_url}/oauth2/authorize",
            "token_endpoint": f"{base_url}/oauth2/token",
            "revocation_endpoint": f"{base_url}/oauth2/revoke",
            "end_session_endpoint": f"{base_url}/logout",
            "jwks_uri": login.jwks_url,
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code"],
            "code_challenge_methods_supported": ["S256"],
            "scopes_supported": ["openid", "email", "profile"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        }

    @app.get("/_local/health")
    def health():
        return {"status": "ok"}

    return app


def main(argv=None) -> None:
    import os

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=4568)
    args = parser.parse_args(argv)
    region = os.environ["AWS_REGION"]
    pool_id = os.environ["COGNITO_USER_POOL_ID"]
    login = LocalManagedLogin(
        aws_endpoint=os.environ["AWS_ENDPOINT_URL"],
        region=region,
        pool_id=pool_id,
        issuer=os.environ["COGNITO_ISSUER"],
        jwks_url=os.environ["COGNITO_JWKS_URL"],
    )
    app = create_app(login, base_url=f"http://{args.host}:{args.port}")
    from werkzeug.serving import run_simple

    run_simple(args.host, args.port, app, threaded=True)


if __name__ == "__main__":
    main()
