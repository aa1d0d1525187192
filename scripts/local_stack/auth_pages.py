"""The managed login's HTML pages: the sign-in form (the pool's users, and a stand-in page per
identity provider that signs in the federated test user) and the refusal page, each under a
Content Security Policy that lets a form post only here and to the app's callback origin."""

from __future__ import annotations

import html
import secrets
import urllib.parse

from flask import Response, request, session

from local_stack.auth_login import RegisteredClient
from local_stack.aws_bootstrap import FEDERATED_USER_EMAIL

FEDERATED_USER_NAME = "Federated Test User"

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


def sign_in_page(client: RegisteredClient, provider: str | None, error: str = "") -> Response:
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
