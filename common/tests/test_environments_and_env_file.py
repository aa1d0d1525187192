"""The environments, the one settings error and the env-file format."""

from __future__ import annotations

import os

import pytest

from chatbot_common.env_file import parse_env_lines, read_env_file, write_env_file
from chatbot_common.environments import APP_ENVS, STRICT_ENVS, SettingsError, app_env


def test_every_strict_environment_is_an_environment_and_local_is_not_strict():
    assert set(STRICT_ENVS) < set(APP_ENVS)
    assert "local" in APP_ENVS and "local" not in STRICT_ENVS


@pytest.mark.parametrize("value", ["", "production", "PROD", "local "])
def test_an_unknown_app_env_is_one_line_naming_the_variable(value):
    environ = {"APP_ENV": value}
    if value.strip() in APP_ENVS:
        assert app_env(environ) == value.strip()
        return
    message = "^APP_ENV=.* must be one of local, dev, staging, prod$"
    with pytest.raises(SettingsError, match=message):
        app_env(environ)


def test_a_default_applies_only_when_app_env_is_unset():
    assert app_env({}, default="local") == "local"
    assert app_env({"APP_ENV": "prod"}, default="local") == "prod"
    with pytest.raises(SettingsError):
        app_env({"APP_ENV": "qa"}, default="local")


def test_settings_error_is_a_value_error():
    # Callers that validated with ValueError before keep catching it.
    assert issubclass(SettingsError, ValueError)


def test_env_lines_strip_blanks_and_skip_comments_and_junk():
    text = "# comment\n\n KEY = value \nURL=http://x/?a=b\nnot a pair\n=empty-key\nEMPTY=\n"
    assert parse_env_lines(text) == {
        "KEY": "value",
        "URL": "http://x/?a=b",
        "": "empty-key",
        "EMPTY": "",
    }


def test_written_file_reads_back_the_same_and_is_replaced_whole(tmp_path):
    path = tmp_path / "state" / "stack.env"
    values = {"AWS_REGION": "us-east-1", "COGNITO_ISSUER": "http://127.0.0.1:1/us-east-1_x"}
    write_env_file(path, values, header=("written by a test",))
    assert path.read_text().startswith("# written by a test\n")
    assert read_env_file(path) == values
    assert oct(os.stat(path).st_mode & 0o777) == "0o644"
    write_env_file(path, {"ONLY": "this"})
    assert read_env_file(path) == {"ONLY": "this"}
    assert [p.name for p in path.parent.iterdir()] == ["stack.env"]  # no temporary file left


@pytest.mark.parametrize("values", [{"KEY": "two\nlines"}, {"A=B": "x"}, {"KEY\n": "x"}])
def test_a_value_that_is_not_one_line_is_refused_and_nothing_is_written(tmp_path, values):
    path = tmp_path / "stack.env"
    with pytest.raises(ValueError, match="cannot be written"):
        write_env_file(path, values)
    assert not path.exists()
