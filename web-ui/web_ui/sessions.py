"""Server-side sessions: signed in once, signed in in every tab of the browser.

Reflex gives each tab its own state (its client token lives in the tab's session storage), so
the sign-in itself is kept apart from the tabs, in a session record on the server: the user's
address and Cognito tokens (sealed, token_seal.py), kept in Redis beside Reflex's state when
`REFLEX_REDIS_URL` is set (every web-ui task sees it), else in the process's memory (the local
stack and a single task: a restart signs everyone out). The browser holds only the session's
random id, in an HttpOnly cookie that script cannot read, sent with the websocket's handshake:

- sign-in makes a new session (a new id every time: no id chosen before the sign-in survives
  it) and a one-time ticket (60 s) that the tab's `SessionSync` component exchanges at
  `POST /_event/session/claim` for the cookie (a websocket cannot set cookies);
- a tab whose state has no session (a new tab, the browser restarted) adopts the one its
  cookie names, if the record still exists and the handshake came from the app's own origin;
- sign-out deletes the record (every tab's next call fails and goes to the sign-in page),
  `POST /_event/session/end` clears the cookie, and a BroadcastChannel message sends the other
  open tabs there at once.

The cookie: `__Host-chat-session` with `Secure; HttpOnly; SameSite=Strict; Path=/` (the
`__Host-` prefix also keeps subdomains from planting one); on the local stack, served over
http://127.0.0.1, `chat-session` without `Secure`. It lives as long as the refresh token
(`WEB_UI_SESSION_DAYS`, 30 days like the app client's refresh token). The records are stored
under the SHA-256 of the id, so neither a dump of the store nor a tab's state gives a cookie.
The endpoints answer only requests whose `Origin` is the app's own (or the static site's,
`REFLEX_DEPLOY_URL`) and that carry the `X-Chat-Session` header.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import secrets
import time
from collections.abc import Mapping
from http.cookies import CookieError, SimpleCookie
from typing import Any, Protocol
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .token_seal import token_seal

SECURE_COOKIE = "__Host-chat-session"
LOCAL_COOKIE = "chat-session"
# Beside the websocket, on the paths the load balancer and the firewall already give the web-ui
# backend (/_event/*); socket.io itself answers only /_event/ (with its query string).
ROUTE_PREFIX = "/_event/session"
TICKET_SECONDS = 60
DEFAULT_SESSION_DAYS = 30
# The memory store drops its oldest records beyond this many (a flood of sign-ins cannot
# exhaust the process).
MEMORY_STORE_LIMIT = 50_000
_MAX_BODY = 1024


def session_days(environ: Mapping[str, str] | None = None) -> int:
    environ = os.environ if environ is None else environ
    try:
        days = int(environ.get("WEB_UI_SESSION_DAYS") or DEFAULT_SESSION_DAYS)
    except ValueError:
        return DEFAULT_SESSION_DAYS
    return min(max(days, 1), 3650)


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def key_of(secret: str) -> str:
    """The store's key of a session id or a ticket: its SHA-256."""
    return hashlib.sha256(secret.encode()).hexdigest()


def secure_cookies(environ: Mapping[str, str] | None = None) -> bool:
    """Secure cookies everywhere but the local stack (plain http on 127.0.0.1)."""
    environ = os.environ if environ is None else environ
    return (environ.get("APP_ENV") or "local").strip() != "local"


def cookie_name(secure: bool) -> str:
    return SECURE_COOKIE if secure else LOCAL_COOKIE


def session_id_from_cookies(cookie_header: str, secure: bool) -> str:
    """The session id the request's Cookie header names ("" when none or malformed)."""
    if not cookie_header:
        return ""
    jar = SimpleCookie()
    try:
        jar.load(cookie_header)
    except CookieError:
        return ""
    morsel = jar.get(cookie_name(secure))
    value = morsel.value if morsel else ""
    # Ids are 43 URL-safe characters; anything else was not made here.
    return (
        value
        if 20 <= len(value) <= 100 and value.replace("-", "").replace("_", "").isalnum()
        else ""
    )


def session_cookie(session_id: str, *, secure: bool, max_age: int) -> str:
    """The Set-Cookie value (max_age 0 clears it)."""
    parts = [
        f"{cookie_name(secure)}={session_id}",
        "Path=/",
        f"Max-Age={max_age}",
        "HttpOnly",
        "SameSite=Strict",
    ]
    if secure:
        parts.append("Secure")
    return "; ".join(parts)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower() if parts.scheme and parts.netloc else ""


def origin_allowed(origin: str, host: str, deploy_url: str | None = None) -> bool:
    """Only the app's own pages may use the session: a page of the request's own host (its
    scheme is not compared: TLS ends at the load balancer), or of the static site
    (`REFLEX_DEPLOY_URL`) where it is served apart from the backend."""
    origin = (origin or "").strip().lower()
    if not origin or origin == "null":
        return False
    parts = urlsplit(origin)
    if parts.scheme not in ("http", "https"):
        return False
    if host and parts.netloc == host.strip().lower():
        return True
    return bool(deploy_url) and origin == _origin(deploy_url)


@dataclasses.dataclass
class SessionRecord:
    """One signed-in browser. Tokens are sealed (token_seal.py)."""

    email: str
    cognito_username: str
    access_token: str
    refresh_token: str
    expires_at: float  # of the access token
    ends_at: float  # of the session (the refresh token's life)
    # Signed in through the managed login (federated.py): sign-out ends its session too.
    federated: bool = False

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text: str | bytes | None) -> SessionRecord | None:
        try:
            record = cls(**json.loads(text or ""))
        except (TypeError, ValueError):
            return None
        return record if record.ends_at > time.time() else None


class SessionStore(Protocol):
    async def save(self, key: str, record: SessionRecord) -> None: ...
    async def load(self, key: str) -> SessionRecord | None: ...
    async def delete(self, key: str) -> None: ...
    async def put_ticket(self, ticket_key: str, sealed_session_id: str) -> None: ...
    async def take_ticket(self, ticket_key: str) -> str: ...


class MemorySessionStore:
    """One process's sessions (the local stack; a single task without Redis)."""

    def __init__(self, limit: int = MEMORY_STORE_LIMIT) -> None:
        self._records: dict[str, tuple[float, str]] = {}
        self._limit = limit

    def _put(self, key: str, value: str, ends_at: float) -> None:
        self._records.pop(key, None)
        self._records[key] = (ends_at, value)
        now = time.time()
        if len(self._records) > self._limit:
            for old in [k for k, (end, _) in self._records.items() if end <= now]:
                del self._records[old]
        while len(self._records) > self._limit:  # the oldest first (insertion order)
            del self._records[next(iter(self._records))]

    def _get(self, key: str) -> str | None:
        entry = self._records.get(key)
        if entry is None:
            return None
        if entry[0] <= time.time():
            del self._records[key]
            return None
        return entry[1]

    async def save(self, key: str, record: SessionRecord) -> None:
        self._put(f"session:{key}", record.to_json(), record.ends_at)

    async def load(self, key: str) -> SessionRecord | None:
        return SessionRecord.from_json(self._get(f"session:{key}")) if key else None

    async def delete(self, key: str) -> None:
        self._records.pop(f"session:{key}", None)

    async def put_ticket(self, ticket_key: str, sealed_session_id: str) -> None:
        self._put(f"ticket:{ticket_key}", sealed_session_id, time.time() + TICKET_SECONDS)

    async def take_ticket(self, ticket_key: str) -> str:
        value = self._get(f"ticket:{ticket_key}") or ""
        self._records.pop(f"ticket:{ticket_key}", None)
        return value


class RedisSessionStore:
    """The sessions in Redis (Reflex's state store), shared by every web-ui task."""

    PREFIX = "web-ui:"

    def __init__(self, url: str) -> None:
        import redis.asyncio as redis

        self._redis = redis.from_url(url)

    async def save(self, key: str, record: SessionRecord) -> None:
        seconds = max(1, int(record.ends_at - time.time()))
        await self._redis.set(f"{self.PREFIX}session:{key}", record.to_json(), ex=seconds)

    async def load(self, key: str) -> SessionRecord | None:
        if not key:
            return None
        return SessionRecord.from_json(await self._redis.get(f"{self.PREFIX}session:{key}"))

    async def delete(self, key: str) -> None:
        await self._redis.delete(f"{self.PREFIX}session:{key}")

    async def put_ticket(self, ticket_key: str, sealed_session_id: str) -> None:
        await self._redis.set(
            f"{self.PREFIX}ticket:{ticket_key}", sealed_session_id, ex=TICKET_SECONDS
        )

    async def take_ticket(self, ticket_key: str) -> str:
        # GETDEL: a ticket is used once, even when two requests race for it.
        value = await self._redis.getdel(f"{self.PREFIX}ticket:{ticket_key}")
        return value.decode() if isinstance(value, bytes) else value or ""


@functools.cache
def session_store() -> SessionStore:
    url = (os.environ.get("REFLEX_REDIS_URL") or "").strip()
    return RedisSessionStore(url) if url else MemorySessionStore()


async def start_session(record: SessionRecord) -> tuple[str, str]:
    """Stores a new session: (its key, for the tab's state; a one-time ticket for the cookie).
    The id itself is kept only sealed inside the ticket, until the cookie carries it."""
    session_id, ticket = new_secret(), new_secret()
    key = key_of(session_id)
    store = session_store()
    await store.save(key, record)
    await store.put_ticket(key_of(ticket), token_seal().seal(session_id))
    return key, ticket


# --- the HTTP endpoints -------------------------------------------------------------------------


def _refused(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": "session_refused", "message": message}}, status)


def _check(request: Request) -> JSONResponse | None:
    """Refuses a request from another site (CSRF) or without the app's header."""
    if request.headers.get("x-chat-session") != "1":
        return _refused(403, "Missing the X-Chat-Session header.")
    if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "same-site"):
        return _refused(403, "Cross-site requests are refused.")
    origin, host = request.headers.get("origin", ""), request.headers.get("host", "")
    if not origin_allowed(origin, host, os.environ.get("REFLEX_DEPLOY_URL")):
        return _refused(403, "This origin may not use the session.")
    return None


async def _json_body(request: Request) -> dict[str, Any] | None:
    body = await request.body()
    if len(body) > _MAX_BODY:
        return None
    try:
        data = json.loads(body or b"{}")
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


async def claim(request: Request) -> Response:
    """Exchanges a sign-in's ticket for the session cookie (once, within 60 s)."""
    if refused := _check(request):
        return refused
    data = await _json_body(request)
    ticket = data.get("ticket") if data else None
    if not isinstance(ticket, str) or not 20 <= len(ticket) <= 100:
        return _refused(400, 'Send {"ticket": "..."} from a sign-in.')
    session_id = token_seal().open(await session_store().take_ticket(key_of(ticket)))
    record = await session_store().load(key_of(session_id)) if session_id else None
    if record is None:
        return _refused(403, "The ticket is unknown, used or expired.")
    secure = secure_cookies()
    response = Response(status_code=204)
    max_age = max(0, int(record.ends_at - time.time()))
    response.headers["Set-Cookie"] = session_cookie(session_id, secure=secure, max_age=max_age)
    response.headers["Cache-Control"] = "no-store"
    return response


async def end(request: Request) -> Response:
    """Sign-out: deletes the session the cookie names (if any) and clears the cookie."""
    if refused := _check(request):
        return refused
    secure = secure_cookies()
    session_id = session_id_from_cookies(request.headers.get("cookie", ""), secure)
    if session_id:
        await session_store().delete(key_of(session_id))
    response = Response(status_code=204)
    response.headers["Set-Cookie"] = session_cookie("", secure=secure, max_age=0)
    response.headers["Cache-Control"] = "no-store"
    return response


def routes() -> Starlette:
    """The endpoints, mounted before the Reflex app (rx.App's api_transformer)."""
    return Starlette(
        routes=[
            Route(f"{ROUTE_PREFIX}/claim", claim, methods=["POST"]),
            Route(f"{ROUTE_PREFIX}/end", end, methods=["POST"]),
        ]
    )
