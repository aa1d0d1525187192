"""Unit tests of the token seal (web_ui/token_seal.py) and of its use by the auth state."""

from __future__ import annotations

import pytest

from web_ui.token_seal import TokenSeal, TokenSealError, derive_key, from_environment

SECRET = "k" * 64
TOKEN = "eyJraWQiOiJkdW1teSJ9.eyJ0b2tlbl91c2UiOiJhY2Nlc3MifQ.c2lnbmF0dXJl"


def test_a_sealed_token_opens_on_any_task_with_the_same_secret():
    sealed = TokenSeal.from_secret(SECRET).seal(TOKEN)
    assert TOKEN not in sealed and "eyJ" not in sealed
    assert TokenSeal.from_secret(SECRET).open(sealed) == TOKEN  # another task, same secret


def test_sealing_twice_gives_two_ciphertexts():
    seal = TokenSeal.from_secret(SECRET)
    assert seal.seal(TOKEN) != seal.seal(TOKEN)


def test_another_secret_or_an_altered_seal_opens_to_no_token():
    sealed = TokenSeal.from_secret(SECRET).seal(TOKEN)
    assert TokenSeal.from_secret("r" * 64).open(sealed) == ""  # the secret was rotated
    flipped = sealed[:-6] + ("A" if sealed[-6] != "A" else "B") + sealed[-5:]
    assert TokenSeal.from_secret(SECRET).open(flipped) == ""
    assert TokenSeal.from_secret(SECRET).open("not a fernet token") == ""
    assert TokenSeal.from_secret(SECRET).open("") == ""
    assert TokenSeal.from_secret(SECRET).seal("") == ""


def test_the_key_depends_on_the_whole_secret():
    assert derive_key(SECRET) == derive_key(SECRET)
    assert derive_key(SECRET) != derive_key(SECRET[:-1] + "j")


@pytest.mark.parametrize("app_env", ["dev", "staging", "prod"])
def test_aws_environments_need_the_secret(app_env):
    with pytest.raises(TokenSealError, match="WEB_UI_SESSION_SECRET is not set"):
        from_environment({"APP_ENV": app_env})
    with pytest.raises(TokenSealError, match="at least 32 characters"):
        from_environment({"APP_ENV": app_env, "WEB_UI_SESSION_SECRET": "short"})
    seal = from_environment({"APP_ENV": app_env, "WEB_UI_SESSION_SECRET": SECRET})
    assert TokenSeal.from_secret(SECRET).open(seal.seal(TOKEN)) == TOKEN


def test_the_local_stack_gets_a_random_key_without_the_secret():
    first, second = from_environment({"APP_ENV": "local"}), from_environment({})
    assert first.open(first.seal(TOKEN)) == TOKEN
    assert second.open(first.seal(TOKEN)) == ""
