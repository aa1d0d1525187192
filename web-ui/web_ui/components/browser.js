// What the app does in the browser alone, with no round trip to the server: local times, the
// keyboard shortcuts, and keeping the tabs of one browser signed in or out together. Bundled
// with the pages (the Content-Security-Policy allows no inline or evaluated script).
import { Fragment, createElement, useEffect } from "react";

// --- times --------------------------------------------------------------------------------

// An ISO 8601 time in the reader's own time zone: the hour today, the date before that.
export function LocalTime({ value, className }) {
  if (!value) return null;
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return null;
  const today = date.toDateString() === new Date().toDateString();
  const text = today
    ? date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })
    : date.toLocaleString([], { dateStyle: "medium", timeStyle: "short" });
  return createElement(
    "time",
    { dateTime: value, title: date.toLocaleString(), className },
    text,
  );
}

// --- keyboard shortcuts ---------------------------------------------------------------------

function typingIn(target) {
  if (!target) return false;
  const tag = target.tagName;
  return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || target.isContentEditable;
}

function press(id) {
  const element = document.getElementById(id);
  if (!element || element.disabled) return false;
  element.click();
  return true;
}

function focusInput() {
  const input = document.getElementById("message");
  if (!input || input.disabled) return false;
  input.focus();
  return true;
}

// Esc in a field of an in-place form (rename, edit): that form's Cancel, as if clicked.
function cancelEditing(target) {
  const form = target && target.closest ? target.closest("[data-escape-cancels]") : null;
  const cancel = form && form.querySelector("[data-cancel]");
  if (!cancel) return false;
  cancel.click();
  return true;
}

// Ctrl+Shift+O (Cmd+Shift+O on a Mac): new chat; Shift+Esc, or "/" outside a field: focus the
// message input; Esc while a reply streams: stop it; in a rename or edit field: cancel it.
// The buttons are pressed as a click would, so a shortcut does exactly what the button does.
export function Shortcuts() {
  useEffect(() => {
    const onKeyDown = (event) => {
      const modifier = event.ctrlKey || event.metaKey;
      let handled = false;
      if (modifier && event.shiftKey && event.key.toLowerCase() === "o") {
        handled = press("new-chat");
      } else if (event.key === "Escape" && event.shiftKey) {
        handled = focusInput();
      } else if (event.key === "Escape") {
        handled = press("stop-reply") || cancelEditing(event.target);
      } else if (event.key === "/" && !modifier && !typingIn(event.target)) {
        handled = focusInput();
      }
      if (handled) event.preventDefault();
    };
    window.addEventListener("keydown", onKeyDown);
    return () => window.removeEventListener("keydown", onKeyDown);
  }, []);
  return null;
}

// --- one session for every tab ----------------------------------------------------------------

const CHANNEL = "chat-session";
const HANDLED = "chat-session-handled";
// The hosts Reflex itself replaces with the page's host when it connects its websocket.
// The pages only a signed-in user sees: a sign-out elsewhere sends them to the sign-in page.
const SIGNED_IN_PAGES = ["/", "/security"];
const SAME_DOMAIN_HOSTNAMES = ["localhost", "0.0.0.0", "::", "0:0:0:0:0:0:0:0"];

// The session endpoints live on the backend, beside the websocket: the cookie they set is the
// one the websocket carries.
function sessionUrl(endpoint, action) {
  const url = new URL(`${endpoint}/${action}`, window.location.href);
  if (SAME_DOMAIN_HOSTNAMES.includes(url.hostname)) {
    url.hostname = window.location.hostname;
    if (window.location.protocol === "https:") {
      url.protocol = "https:";
      url.port = "";
    }
  }
  return url.toString();
}

// Each ticket or sign-out is acted on once per tab, also when the page is loaded again.
function firstTime(value) {
  try {
    const done = JSON.parse(window.sessionStorage.getItem(HANDLED) || "[]");
    if (done.includes(value)) return false;
    window.sessionStorage.setItem(HANDLED, JSON.stringify([...done.slice(-9), value]));
  } catch {
    // Storage blocked: act anyway (a used ticket is refused, a second sign-out does nothing).
  }
  return true;
}

async function post(endpoint, action, body) {
  try {
    const response = await fetch(sessionUrl(endpoint, action), {
      method: "POST",
      credentials: "include",
      headers: { "Content-Type": "application/json", "X-Chat-Session": "1" },
      body: JSON.stringify(body),
    });
    return response.ok;
  } catch {
    return false;
  }
}

// A channel delivers to every other channel object of the origin, this page's listener too:
// messages carry the sender, so a page ignores its own.
const THIS_PAGE = Math.random().toString(36).slice(2);

function broadcast(event) {
  try {
    const channel = new BroadcastChannel(CHANNEL);
    channel.postMessage({ event, from: THIS_PAGE });
    channel.close();
  } catch {
    // No BroadcastChannel: the other tabs notice on their next event.
  }
}

// `ticket`: set once a sign-in succeeded; exchanged for the HttpOnly session cookie, then the
// other tabs are told. `ended`: set when the user signs out; the cookie is cleared and every
// other tab leaves for the sign-in page. Renders its children only.
export function SessionSync({ ticket, ended, endpoint, children }) {
  useEffect(() => {
    if (!ticket || !firstTime(ticket)) return;
    post(endpoint, "claim", { ticket }).then((ok) => ok && broadcast("signed-in"));
  }, [ticket, endpoint]);

  useEffect(() => {
    if (!ended || !firstTime(ended)) return;
    post(endpoint, "end", {}).finally(() => broadcast("signed-out"));
  }, [ended, endpoint]);

  useEffect(() => {
    let channel;
    try {
      channel = new BroadcastChannel(CHANNEL);
    } catch {
      return undefined;
    }
    channel.onmessage = ({ data }) => {
      if (!data || data.from === THIS_PAGE) return;
      const path = window.location.pathname.replace(/\/+$/, "") || "/";
      if (data.event === "signed-out" && SIGNED_IN_PAGES.includes(path)) {
        window.location.assign("/signin");
      } else if (data.event === "signed-in" && path === "/signin") {
        window.location.assign("/");
      }
    };
    return () => channel.close();
  }, []);

  return createElement(Fragment, null, children);
}
