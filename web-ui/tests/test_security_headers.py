"""Unit tests of the header set and of the build step that moves inline scripts out (the
browser tests check the running app's headers and that the policy blocks nothing it needs)."""

from __future__ import annotations

import gzip
import json
import re

import pytest
from async_run import run

from web_ui import security_headers
from web_ui.security_headers import (
    SecurityHeadersMiddleware,
    externalize_build,
    externalize_inline_scripts,
    header_set,
)

PAGE = (
    "<!DOCTYPE html><html><head>"
    '<script src="/assets/app.js" type="module"></script>'
    '<script>window.__context = {"a": 1};</script>'
    '<script type="module" async="">import "/assets/manifest.js";</script>'
    '<script type="application/json">{"data": true}</script>'
    "</head><body><div>text</div>"
    '<script id="_R_">requestAnimationFrame(function(){});</script>'
    "</body></html>"
)


def test_the_policy_is_strict():
    policy = header_set("prod")["Content-Security-Policy"]
    directives = dict(
        (part.split(" ", 1) + [""])[:2] for part in (p.strip() for p in policy.split(";"))
    )
    assert directives["script-src"] == "'self'"
    assert directives["object-src"] == "'none'"
    assert directives["base-uri"] == "'none'"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["connect-src"] == "'self'"
    assert "'unsafe-eval'" not in policy and "*" not in policy


def test_https_only_headers_everywhere_but_local():
    assert "Strict-Transport-Security" not in header_set("local")
    for app_env in ("dev", "staging", "prod"):
        headers = header_set(app_env)
        assert headers["Strict-Transport-Security"].startswith("max-age=")
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "no-referrer"


def test_the_backend_origin_joins_connect_src_with_its_websocket():
    policy = header_set("prod", "https://app.example.com/")["Content-Security-Policy"]
    assert "connect-src 'self' https://app.example.com wss://app.example.com;" in policy
    local = header_set("local", "http://127.0.0.1:3000")["Content-Security-Policy"]
    assert "connect-src 'self' http://127.0.0.1:3000 ws://127.0.0.1:3000;" in local
    with pytest.raises(ValueError):
        header_set("prod", "javascript:alert(1)")


def test_the_header_file_is_the_one_source():
    spec = json.loads(security_headers.HEADERS_FILE.read_text())
    headers = header_set("prod", spec=spec)
    assert set(headers) == {
        "Content-Security-Policy",
        *spec["headers"],
        *spec["https_headers"],
    }


def test_the_amplify_custom_headers_are_the_same_set():
    text = security_headers.amplify_custom_headers("https://app.example.com")
    assert text.startswith("customHeaders:\n  - pattern: '**'\n    headers:\n")
    pairs = re.findall(r'- key: ("[^"]*")\n\s+value: (".*")', text)
    assert {json.loads(k): json.loads(v) for k, v in pairs} == header_set(
        "prod", "https://app.example.com"
    )


def test_inline_scripts_become_files_in_order_with_their_attributes():
    rewritten, files = externalize_inline_scripts(PAGE)
    assert len(files) == 3
    bodies = list(files.values())
    assert bodies[0] == 'window.__context = {"a": 1};'
    assert '<script src="/assets/app.js" type="module"></script>' in rewritten
    assert '<script type="application/json">{"data": true}</script>' in rewritten  # data
    names = list(files)
    assert rewritten.index(names[0]) < rewritten.index(names[1]) < rewritten.index(names[2])
    assert f'<script type="module" async="" src="/assets/{names[1]}"></script>' in rewritten
    assert f'<script id="_R_" src="/assets/{names[2]}"></script>' in rewritten
    assert all(name.startswith("inline-") and name.endswith(".js") for name in names)
    # Content-addressed: the same body always gets the same file.
    assert externalize_inline_scripts(PAGE)[1] == files


def test_a_build_is_rewritten_once_with_its_gzip_sidecars(tmp_path):
    (tmp_path / "signin").mkdir()
    for page in (tmp_path / "index.html", tmp_path / "signin" / "index.html"):
        page.write_text(PAGE)
        page.with_name(page.name + ".gz").write_bytes(gzip.compress(PAGE.encode()))
    assert externalize_build(tmp_path) == 2
    assert externalize_build(tmp_path) == 0  # nothing inline is left
    page = (tmp_path / "index.html").read_text()
    assert gzip.decompress((tmp_path / "index.html.gz").read_bytes()).decode() == page
    scripts = sorted(p.name for p in (tmp_path / "assets").iterdir())
    assert len(scripts) == 3 and all(name in page for name in scripts)


def test_the_middleware_adds_the_headers_to_http_responses_only():
    async def app(scope, receive, send):
        if scope["type"] == "http":
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"referrer-policy", b"same-origin")],
                }
            )
            await send({"type": "http.response.body", "body": b"ok"})
        else:
            await send({"type": "websocket.accept", "headers": []})

    sent = []

    async def send(message):
        sent.append(message)

    async def receive():
        return {}

    middleware = SecurityHeadersMiddleware(app, header_set("prod"))
    run(middleware({"type": "http"}, receive, send))
    headers = dict(sent[0]["headers"])
    assert headers[b"x-content-type-options"] == b"nosniff"
    assert headers[b"content-security-policy"].startswith(b"default-src 'self'")
    assert sent[0]["headers"].count((b"referrer-policy", b"same-origin")) == 1  # kept
    assert b"no-referrer" not in [value for _, value in sent[0]["headers"]]
    sent.clear()
    run(middleware({"type": "websocket"}, receive, send))
    assert sent == [{"type": "websocket.accept", "headers": []}]
