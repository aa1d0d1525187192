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
import secrets
import time

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import InvalidRequestError, grants
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import UserInfo
from authlib.oidc.core import grants as oidc_grants
from flask import Flask, redirect, request, session

from local_stack.auth_login import AuthorizationCode, LocalManagedLogin, SignedInUser
from local_stack.auth_pages import FEDERATED_USER_NAME, refusal_page, sign_in_page

CODE_LIFETIME_SECONDS = 300
ID_TOKEN_LIFETIME_SECONDS = 15 * 60
SESSION_COOKIE = "cognito"


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
        return sign_in_page(client, provider)

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
                return sign_in_page(client, None, "The e-mail address or the password is wrong.")
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
