"""Encryption of the Cognito tokens the app state holds.

With several web-ui tasks the state lives in the shared Valkey store, and a token read from it
is a session. The state therefore keeps only sealed tokens: Fernet (AES-128-CBC with an
HMAC-SHA256 tag) under a key derived (HKDF-SHA256) from `WEB_UI_SESSION_SECRET`, a secret in
Secrets Manager that only the web-ui tasks receive. A dump of the store, or another client of
it, yields nothing usable. Every task derives the same key, so any task opens what another
sealed; rotating the secret signs everyone out (a sealed token that does not open is no token).
"""

from __future__ import annotations

import base64
import functools
import os
from collections.abc import Mapping

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

SECRET_VARIABLE = "WEB_UI_SESSION_SECRET"  # noqa: S105 - the variable's name
# Environments where the tasks share a state store: a per-process key would sign users out
# whenever another task serves them.
REQUIRED_IN = ("dev", "staging", "prod")
MIN_SECRET_CHARS = 32
_CONTEXT = b"chatbot web-ui token seal v1"


class TokenSealError(ValueError):
    """The secret is missing or too short; the message is one line for the operator."""


def derive_key(secret: str) -> bytes:
    """The Fernet key for `secret` (the same on every task)."""
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_CONTEXT).derive(
        secret.encode()
    )
    return base64.urlsafe_b64encode(key)


class TokenSeal:
    def __init__(self, key: bytes) -> None:
        self._fernet = Fernet(key)

    @classmethod
    def from_secret(cls, secret: str) -> TokenSeal:
        if len(secret) < MIN_SECRET_CHARS:
            raise TokenSealError(
                f"{SECRET_VARIABLE} must hold at least {MIN_SECRET_CHARS} characters"
            )
        return cls(derive_key(secret))

    def seal(self, token: str) -> str:
        """The encrypted token ("" stays "": no token)."""
        return self._fernet.encrypt(token.encode()).decode() if token else ""

    def open(self, sealed: str) -> str:
        """The token, or "" when `sealed` is empty, altered or sealed under another key."""
        if not sealed:
            return ""
        try:
            return self._fernet.decrypt(sealed.encode()).decode()
        except InvalidToken:
            return ""


def from_environment(environ: Mapping[str, str] | None = None) -> TokenSeal:
    """The seal of `WEB_UI_SESSION_SECRET`; on the local stack (one process) a random key
    when it is unset."""
    environ = os.environ if environ is None else environ
    secret = (environ.get(SECRET_VARIABLE) or "").strip()
    if secret:
        return TokenSeal.from_secret(secret)
    app_env = (environ.get("APP_ENV") or "local").strip()
    if app_env in REQUIRED_IN:
        raise TokenSealError(f"{SECRET_VARIABLE} is not set (required when APP_ENV={app_env})")
    return TokenSeal(Fernet.generate_key())


@functools.cache
def token_seal() -> TokenSeal:
    """The process's seal, made on first use."""
    return from_environment()
