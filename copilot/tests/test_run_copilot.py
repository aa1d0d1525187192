"""run_copilot retries transport failures between the CLI and the local proxy, and only those
(unit tests of one function, with a stand-in executable that counts its calls)."""

from __future__ import annotations

import pytest
from copilot_checks import render


def stand_in(tmp_path, stderr: str, failures: int):
    calls = tmp_path / "calls"
    script = tmp_path / "copilot"
    script.write_text(
        "#!/bin/sh\n"
        f'echo x >> "{calls}"\n'
        f'if [ "$(wc -l < "{calls}")" -le {failures} ]; then echo "{stderr}" >&2; exit 1; fi\n'
        "echo rendered\n"
    )
    script.chmod(0o755)
    return script, calls


def test_a_reset_connection_is_retried(tmp_path, monkeypatch):
    script, calls = stand_in(tmp_path, "read: connection reset by peer", failures=2)
    monkeypatch.setattr(render, "COPILOT_BIN", script)
    assert render.run_copilot(["svc", "package"], {"PATH": "/usr/bin:/bin"}) == "rendered\n"
    assert len(calls.read_text().splitlines()) == 3


def test_a_manifest_error_is_not_retried(tmp_path, monkeypatch):
    script, calls = stand_in(tmp_path, "validate count: min must be below max", failures=5)
    monkeypatch.setattr(render, "COPILOT_BIN", script)
    with pytest.raises(render.RenderError, match="min must be below max"):
        render.run_copilot(["svc", "package"], {"PATH": "/usr/bin:/bin"})
    assert len(calls.read_text().splitlines()) == 1


def test_retries_stop_after_the_last_attempt(tmp_path, monkeypatch):
    script, calls = stand_in(tmp_path, "RequestError: send request failed", failures=9)
    monkeypatch.setattr(render, "COPILOT_BIN", script)
    with pytest.raises(render.RenderError, match="send request failed"):
        render.run_copilot(["env", "package"], {"PATH": "/usr/bin:/bin"})
    assert len(calls.read_text().splitlines()) == render.ATTEMPTS
