"""Text matching for the history search: case- and accent-insensitive.

Both sides are folded the same way: NFKD (compatibility decomposition: "ﬁ" becomes "fi",
"é" becomes "e" + a combining accent), combining marks dropped, then casefold ("ß" matches
"ss"). A query matches when its folded text is a substring of the folded field.
"""

from __future__ import annotations

import unicodedata


def fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(char for char in decomposed if not unicodedata.combining(char))
    return " ".join(stripped.casefold().split())


def snippet(text: str, folded_query: str, width: int = 120) -> str:
    """About `width` characters of `text` around the first match (whole text if short)."""
    flat = " ".join(text.split())
    if len(flat) <= width:
        return flat
    # Folding can change lengths ("ß" -> "ss"), so the position is found per character.
    position = 0
    for index in range(len(flat)):
        if fold(flat[index : index + len(folded_query) + 8]).startswith(folded_query):
            position = index
            break
    start = max(0, position - width // 3)
    piece = flat[start : start + width]
    return ("…" if start else "") + piece + ("…" if start + width < len(flat) else "")


# One search request reads at most this much; the cursor continues where it stopped.
SEARCH_CONVERSATIONS_PER_REQUEST = 50
SEARCH_MESSAGES_PER_CONVERSATION = 500
SEARCH_MESSAGES_PER_REQUEST = 2000
QUERY_MAX_CHARS = 100


def search_conversations(store, user_id: str, query: str, *, limit: int, cursor: str | None):
    """The caller's conversations whose title or message text contains `query`, most recently
    active first, and the cursor to continue (None when every conversation was examined).

    Conversations are examined in listing order; a title match is enough, otherwise the
    conversation's newest SEARCH_MESSAGES_PER_CONVERSATION messages are read, newest first,
    until one matches. A request stops after `limit` matches, after examining
    SEARCH_CONVERSATIONS_PER_REQUEST conversations or once it has read
    SEARCH_MESSAGES_PER_REQUEST messages, so a page can hold fewer than `limit` matches (even
    none) while `next_cursor` is set."""
    folded = fold(query)
    results: list[dict] = []
    read = 0
    summaries = store.iter_summaries(
        user_id, page_size=SEARCH_CONVERSATIONS_PER_REQUEST, cursor=cursor
    )
    for examined, (summary, position) in enumerate(summaries, start=1):
        match = None
        if folded in fold(summary["title"]):
            match = {"field": "title", "message_id": None, "snippet": summary["title"]}
        else:
            messages = store.iter_messages(
                user_id,
                summary["conversation_id"],
                newest_first=True,
                fields=("message_id", "text"),
            )
            for n, message in enumerate(messages, start=1):
                read += 1
                text = message.get("text", "")
                if folded in fold(text):
                    match = {
                        "field": "message",
                        "message_id": message["message_id"],
                        "snippet": snippet(text, folded),
                    }
                    break
                if n >= SEARCH_MESSAGES_PER_CONVERSATION:
                    break
        if match:
            results.append({**summary, "match": match})
        if (
            len(results) >= limit
            or examined >= SEARCH_CONVERSATIONS_PER_REQUEST
            or read >= SEARCH_MESSAGES_PER_REQUEST
        ):
            return results, position
    return results, None
