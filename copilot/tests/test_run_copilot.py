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


@pytest.mark.parametrize(
    ("stderr", "failures", "error", "expected_calls"),
    [
        # a reset connection is retried until the CLI renders
        ("read: connection reset by peer", 2, None, 3),
        # a manifest error is not retried
        ("validate count: min must be below max", 5, "min must be below max", 1),
        # retries stop after the last attempt
        ("RequestError: send request failed", 9, "send request failed", render.ATTEMPTS),
    ],
    ids=["reset-retried", "manifest-error-not-retried", "retries-stop-after-last-attempt"],
)
def test_only_transport_failures_are_retried(
    tmp_path, monkeypatch, stderr, failures, error, expected_calls
):
    script, calls = stand_in(tmp_path, stderr, failures=failures)
    monkeypatch.setattr(render, "COPILOT_BIN", script)
    if error is None:
        assert render.run_copilot(["svc", "package"], {"PATH": "/usr/bin:/bin"}) == "rendered\n"
    else:
        with pytest.raises(render.RenderError, match=error):
            render.run_copilot(["svc", "package"], {"PATH": "/usr/bin:/bin"})
    assert len(calls.read_text().splitlines()) == expected_calls
