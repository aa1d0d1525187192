"""The functions' configuration, read from environment variables once per Lambda container.

Each function asks only for what it needs (the feedback consumer does not need the sign-up
block list), so a missing value stops the function that uses it and nothing else. Values are
read on first use, not at import: `chalice package` imports app.py without any of them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache

APP_ENVS = ("local", "dev", "staging", "prod")
# Auto-confirming skips the e-mail check; only stages without real users may do it.
AUTO_CONFIRM_ENVS = ("local", "dev")
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("", "0", "false", "no", "off")
_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}$")
_NAME = re.compile(r"^[A-Za-z0-9_.:/-]{1,256}$")
_TIER = re.compile(r"^[a-z0-9_-]{1,32}$")


class ConfigurationError(RuntimeError):
    """A setting is missing or invalid; the message names it (and never holds a secret)."""


def _required(environ: Mapping[str, str], name: str) -> str:
    value = environ.get(name, "").strip()
    if not value:
        raise ConfigurationError(f"{name} is not set")
    if not _NAME.match(value):
        raise ConfigurationError(f"{name}={value!r} is not a valid resource name or URL")
    return value


def _flag(environ: Mapping[str, str], name: str) -> bool:
    raw = environ.get(name, "").strip().lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ConfigurationError(f"{name}={raw!r} is not a boolean (true/false)")


def _app_env(environ: Mapping[str, str]) -> str:
    value = environ.get("APP_ENV", "").strip()
    if value not in APP_ENVS:
        raise ConfigurationError(f"APP_ENV={value!r} is not one of {', '.join(APP_ENVS)}")
    return value


def normalise_domain(domain: str) -> str:
    """Lower case, no trailing dot, international names in their ASCII (IDNA) form."""
    domain = domain.strip().rstrip(".").lower()
    try:
        return domain.encode("idna").decode("ascii")
    except UnicodeError as error:
        raise ValueError(f"{domain!r} is not a valid domain name") from error


def domain_list(environ: Mapping[str, str], name: str) -> frozenset[str]:
    """A comma-separated list of domains, normalised; empty when unset."""
    domains = set()
    for raw in environ.get(name, "").split(","):
        if not raw.strip():
            continue
        try:
            domain = normalise_domain(raw)
        except ValueError:
            domain = ""
        if not _DOMAIN.match(domain):
            raise ConfigurationError(f"{name} holds {raw.strip()!r}, which is not a domain name")
        domains.add(domain)
    return frozenset(domains)


@dataclass(frozen=True)
class SignUpSettings:
    app_env: str
    blocked_domains: frozenset[str]
    allowed_domains: frozenset[str]  # empty: every domain not blocked is allowed
    auto_confirm: bool

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> SignUpSettings:
        app_env = _app_env(environ)
        auto_confirm = _flag(environ, "AUTO_CONFIRM_USERS")
        if auto_confirm and app_env not in AUTO_CONFIRM_ENVS:
            raise ConfigurationError(
                f"AUTO_CONFIRM_USERS is only allowed when APP_ENV is one of "
                f"{', '.join(AUTO_CONFIRM_ENVS)}, not {app_env}"
            )
        return cls(
            app_env=app_env,
            blocked_domains=domain_list(environ, "SIGNUP_BLOCKED_DOMAINS"),
            allowed_domains=domain_list(environ, "SIGNUP_ALLOWED_DOMAINS"),
            auto_confirm=auto_confirm,
        )


@dataclass(frozen=True)
class ProfileSettings:
    app_env: str
    profiles_table: str
    default_group: str
    default_tier: str

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> ProfileSettings:
        tier = environ.get("DEFAULT_TIER", "free").strip()
        if not _TIER.match(tier):
            raise ConfigurationError(f"DEFAULT_TIER={tier!r} is not a tier name ([a-z0-9_-])")
        return cls(
            app_env=_app_env(environ),
            profiles_table=_required(environ, "PROFILES_TABLE"),
            default_group=_required({"DEFAULT_GROUP": "users", **environ}, "DEFAULT_GROUP"),
            default_tier=tier,
        )


@dataclass(frozen=True)
class FeedbackSettings:
    app_env: str
    feedback_table: str
    # The URL when the deployment knows it; otherwise the name, resolved on first use.
    dlq_url: str | None
    dlq_name: str | None

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> FeedbackSettings:
        dlq_url = environ.get("FEEDBACK_DLQ_URL", "").strip() or None
        dlq_name = None
        if dlq_url is None:
            dlq_name = _required(environ, "FEEDBACK_DLQ_NAME")
        return cls(
            app_env=_app_env(environ),
            feedback_table=_required(environ, "FEEDBACK_TABLE"),
            dlq_url=dlq_url,
            dlq_name=dlq_name,
        )


@cache
def sign_up_settings() -> SignUpSettings:
    return SignUpSettings.from_env(os.environ)


@cache
def profile_settings() -> ProfileSettings:
    return ProfileSettings.from_env(os.environ)


@cache
def feedback_settings() -> FeedbackSettings:
    return FeedbackSettings.from_env(os.environ)


def reset() -> None:
    """Forget the settings read so far (tests change the environment between cases)."""
    for read in (sign_up_settings, profile_settings, feedback_settings):
        read.cache_clear()
