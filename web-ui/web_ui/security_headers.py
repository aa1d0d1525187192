"""The web app's security headers and the build step that makes its pages fit them.

`security-headers.json` (next to this module) is the one place the header set is written; the
Reflex server (this module's middleware) and the Amplify static site (the CDK app reads the same
file) both apply it.

The policy allows no inline script. React Router's pages carry inline scripts (the router's
context, the route modules' imports, React's streaming helpers), so `externalize_build` moves
each one into a content-addressed file under `assets/` and leaves a `<script src>` in its place,
keeping the order and attributes: the pages then run under `script-src 'self'` without hashes
that would change with every build. The Reflex server does this to its own build when it starts;
`make web-ui-export` does it to the static export.

    python -m web_ui.security_headers externalize DIR   # rewrite a build's pages
    python -m web_ui.security_headers show [--app-env prod] [--backend-url URL]
    python -m web_ui.security_headers amplify --backend-url URL   # Amplify customHeaders

The module needs only the standard library, so other tools can load it by path.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import re
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from urllib.parse import urlsplit

HEADERS_FILE = Path(__file__).with_name("security-headers.json")
INLINE_SCRIPT_PREFIX = "inline-"

# A generated page's script elements. An inline one has no src attribute; its body cannot hold
# "</script>" (the HTML parser would have ended it there too).
_SCRIPT = re.compile(r"<script(?P<attrs>(?:\s[^>]*)?)>(?P<body>.*?)</script>", re.S | re.I)
_SRC_ATTR = re.compile(r"\ssrc\s*=", re.I)


def load(path: Path = HEADERS_FILE) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def backend_origins(backend_url: str | None) -> list[str]:
    """The backend's origin as http(s) and as ws(s): the app's websocket goes to `/_event`."""
    if not backend_url:
        return []
    parts = urlsplit(backend_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"{backend_url} is not an http(s) URL")
    socket_scheme = "wss" if parts.scheme == "https" else "ws"
    return [f"{parts.scheme}://{parts.netloc}", f"{socket_scheme}://{parts.netloc}"]


def content_security_policy(directives: Mapping[str, Iterable[str]], backend_url=None) -> str:
    rendered = []
    for name, values in directives.items():
        values = list(values)
        if name == "connect-src":
            values += [origin for origin in backend_origins(backend_url) if origin not in values]
        rendered.append(" ".join([name, *values]))
    return "; ".join(rendered)


def header_set(app_env: str, backend_url: str | None = None, spec: dict | None = None) -> dict:
    """The headers of every response: the policy, the plain headers, and the HTTPS-only ones
    everywhere but `local` (plain HTTP on 127.0.0.1, where HSTS would pin the browser)."""
    spec = load() if spec is None else spec
    headers = {
        "Content-Security-Policy": content_security_policy(
            spec["content_security_policy"], backend_url
        ),
        **spec["headers"],
    }
    if app_env != "local":
        headers.update(spec["https_headers"])
    return headers


def amplify_custom_headers(backend_url: str, spec: dict | None = None) -> str:
    """The set as Amplify's `customHeaders` YAML (every path; Amplify serves HTTPS only).
    Values are JSON strings, which YAML reads as they are."""
    lines = ["customHeaders:", "  - pattern: '**'", "    headers:"]
    for name, value in header_set("prod", backend_url, spec).items():
        lines += [f"      - key: {json.dumps(name)}", f"        value: {json.dumps(value)}"]
    return "\n".join(lines) + "\n"


class SecurityHeadersMiddleware:
    """ASGI middleware: adds the header set to every HTTP response (pages, assets, the
    backend's own endpoints); a header the app set itself is left as it is."""

    def __init__(self, app, headers: Mapping[str, str]) -> None:
        self.app = app
        self.headers = [(k.lower().encode(), v.encode()) for k, v in headers.items()]

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                message = {
                    **message,
                    "headers": [
                        *message.get("headers", []),
                        *(item for item in self.headers if item[0] not in present),
                    ],
                }
            await send(message)

        return await self.app(scope, receive, send_with_headers)


def from_environment(app) -> SecurityHeadersMiddleware:
    """Reflex's `api_transformer`: the header set for this server's APP_ENV and backend URL."""
    return SecurityHeadersMiddleware(
        app,
        header_set(
            (os.environ.get("APP_ENV") or "local").strip(),
            (os.environ.get("REFLEX_API_URL") or "").strip() or None,
        ),
    )


def externalize_inline_scripts(html: str, assets_url: str = "/assets/") -> tuple[str, dict]:
    """The page with each inline script replaced by `<script src>`, and {file name: body}."""
    files: dict[str, str] = {}

    def replace(match: re.Match) -> str:
        attrs, body = match["attrs"], match["body"]
        if _SRC_ATTR.search(attrs) or not body.strip():
            return match[0]
        if re.search(r"\stype\s*=\s*[\"']?(application/(ld\+)?json|importmap)", attrs, re.I):
            return match[0]  # data, not script: CSP does not apply
        name = f"{INLINE_SCRIPT_PREFIX}{hashlib.sha256(body.encode()).hexdigest()[:20]}.js"
        files[name] = body
        return f'<script{attrs} src="{assets_url}{name}"></script>'

    return _SCRIPT.sub(replace, html), files


def externalize_build(directory: Path) -> int:
    """Rewrites every page of a built frontend (and its .gz sidecar); returns how many pages
    changed. Running it again changes nothing."""
    directory = Path(directory)
    assets = directory / "assets"
    changed = 0
    for page in sorted(directory.rglob("*.html")):
        html = page.read_text(encoding="utf-8")
        rewritten, files = externalize_inline_scripts(html)
        if not files:
            continue
        assets.mkdir(exist_ok=True)
        for name, body in files.items():
            target = assets / name
            if not target.exists():
                _write_atomically(target, body.encode())
        _write_atomically(page, rewritten.encode())
        sidecar = page.with_name(page.name + ".gz")
        if sidecar.exists():
            _write_atomically(sidecar, gzip.compress(rewritten.encode(), mtime=0))
        changed += 1
    return changed


def _write_atomically(path: Path, data: bytes) -> None:
    # Several server workers may rewrite the same build at start: each file is replaced whole.
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m web_ui.security_headers")
    commands = parser.add_subparsers(dest="command", required=True)
    externalize = commands.add_parser("externalize", help="move a build's inline scripts out")
    externalize.add_argument("directory", type=Path)
    show = commands.add_parser("show", help="print the header set as JSON")
    show.add_argument("--app-env", default="prod")
    show.add_argument("--backend-url")
    amplify = commands.add_parser("amplify", help="print Amplify's customHeaders YAML")
    amplify.add_argument("--backend-url", required=True)
    args = parser.parse_args(argv)
    if args.command == "externalize":
        if not args.directory.is_dir():
            parser.error(f"{args.directory} is not a directory")
        count = externalize_build(args.directory)
        print(f"{args.directory}: inline scripts moved out of {count} pages")
        return 0
    if args.command == "amplify":
        sys.stdout.write(amplify_custom_headers(args.backend_url))
        return 0
    json.dump(header_set(args.app_env, args.backend_url), sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
