"""React components of `browser.js` (bundled with the pages): local times, keyboard shortcuts,
and the tabs' shared session."""

from __future__ import annotations

import reflex as rx

_LIBRARY = rx.asset("browser.js", shared=True).importable_path


class LocalTime(rx.Component):
    """An ISO 8601 time shown in the reader's time zone, as a `<time>` element."""

    library = _LIBRARY
    tag = "LocalTime"
    is_default = False

    value: rx.Var[str]


class Shortcuts(rx.Component):
    """The keyboard shortcuts of the chat page (docs/web-ui.md); renders nothing."""

    library = _LIBRARY
    tag = "Shortcuts"
    is_default = False


class SessionSync(rx.Component):
    """Turns a sign-in's ticket into the session cookie, clears it at sign-out, and tells the
    browser's other tabs (BroadcastChannel)."""

    library = _LIBRARY
    tag = "SessionSync"
    is_default = False

    ticket: rx.Var[str]
    ended: rx.Var[str]
    endpoint: rx.Var[str]


local_time = LocalTime.create
shortcuts = Shortcuts.create
session_sync = SessionSync.create
