"""The deployment environments and the one error every component raises for a bad setting."""

from __future__ import annotations

from collections.abc import Mapping

APP_ENVS = ("local", "dev", "staging", "prod")
# Environments where tokens minted by a local stand-in (whose key is public) must never be
# accepted: every one but `local`.
STRICT_ENVS = ("dev", "staging", "prod")
# Auto-confirming sign-ups skips the e-mail check; only stages without real users may do it.
AUTO_CONFIRM_ENVS = ("local", "dev")


class SettingsError(ValueError):
    """A setting is missing or invalid. The message is one line that names the variable (and
    never holds a secret): the process stops with it."""


def app_env(environ: Mapping[str, str], *, default: str | None = None) -> str:
    """APP_ENV from `environ`, checked against APP_ENVS; `default` when unset (if given)."""
    value = (environ.get("APP_ENV") or "").strip() or (default or "")
    if value not in APP_ENVS:
        raise SettingsError(f"APP_ENV={value!r} must be one of {', '.join(APP_ENVS)}")
    return value
