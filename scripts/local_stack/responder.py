"""Deterministic, emotion-aware stand-in for a language model.

It needs no weights and answers in microseconds, so the local stack and its tests run anywhere,
while replies still show whether the chat API passed the right emotion along:

- The emotion comes from the system prompt line
  ``Detected emotion of the user's latest message: <label>`` (missing or unknown: neutral).
  Each of anger, disgust, fear, joy, neutral, sadness and surprise has its own tone.
- The reply quotes the first few words of the user's latest message, so replies differ per
  message; the template variant is chosen from a hash of that message, so the same input
  always gives the same output.
- When the optional line ``Recent emotional trajectory: <label>, <label>, ... (oldest first)``
  ends with at least three distress labels (anger, fear, sadness) and the current emotion is
  one of them too, the reply adds a sentence noticing the strain.
- When the user's latest message mentions "markdown" (any case), the reply ends with a short
  Markdown passage (bold, a bulleted list, inline code), as real models often write, so clients
  can check how they render it.

- When the system prompt asks for a title (a line starting ``Task: write a title``), the reply is
  a title instead: up to four words of the conversation's first user message (inside
  ``<user>`` and ``</user>``), without common short words, each capitalised; the user's words
  are echoed as they are, markup included, as a model would repeat an injected instruction.

The reply is cut into chunks (a word with its trailing whitespace) that play the part of
tokens: ``max_tokens`` caps their number (stop reason ``max_tokens``, else ``end_turn``).
"""

import hashlib
import re
from dataclasses import dataclass

from chatbot_common.wire import EMOTIONS

DISTRESS_EMOTIONS = frozenset({"anger", "fear", "sadness"})
DISTRESS_STREAK = 3
QUOTE_WORDS = 6

_EMOTION_LINE = re.compile(r"Detected emotion of the user[’']s latest message:[ \t]*(\w+)", re.I)
_TRAJECTORY_LINE = re.compile(r"Recent emotional trajectory:[ \t]*([^\n]*)", re.I)
_CHUNK = re.compile(r"\S+\s*")
_TITLE_TASK = re.compile(r"^Task: write a title", re.I | re.M)
_TITLE_SOURCE = re.compile(r"<user>\s*(.*?)\s*</user>", re.S)
_TITLE_WORDS = 4
_SMALL_WORDS = frozenset(
    {"a", "an", "and", "am", "are", "as", "at", "be", "but", "by", "for", "from", "i", "i'm",
     "im", "in", "is", "it", "its", "me", "my", "of", "on", "or", "so", "that", "the", "this",
     "to", "was", "we", "with", "you", "your"}
)  # fmt: skip

# Two variants per emotion; {quote} is the start of the user's latest message.
_TEMPLATES: dict[str, tuple[str, ...]] = {
    "sadness": (
        'I\'m really sorry. When you say "{quote}", I can hear how heavy this feels. '
        "There is no rush here, and nothing you need to fix right now. It is okay to feel "
        "this way, and it is okay to take it slowly. I am here with you. Would you like to "
        "tell me a little more about what has been hardest?",
        'Thank you for telling me "{quote}". That sounds painful, and it makes sense that '
        "it weighs on you. We can go gently, one small step at a time, without hunting for "
        "quick answers. Your feelings matter here. If it helps, share whichever part of it "
        "feels most present for you right now.",
    ),
    "anger": (
        'It sounds like "{quote}" really got under your skin, and that frustration makes '
        "sense. You have every right to feel annoyed when things go this way. Let's slow "
        "down for a moment and look at it calmly together. Which part bothers you the most, "
        "so we can focus on what you can actually change?",
        'I can tell that "{quote}" is frustrating, and your reaction is understandable. '
        "Anger is often a sign that something important to you was not respected. Let's "
        "take a breath and sort through it step by step, without rushing. What outcome "
        "would feel fair to you here?",
    ),
    "fear": (
        'It sounds like "{quote}" is making you worried, and that is a very human reaction. '
        "You are not alone with this. Let's ground ourselves first: take one slow breath "
        "and notice what is actually in front of you right now. Then we can look at what is "
        "in your control, one small piece at a time. What feels most uncertain?",
        'Feeling uneasy about "{quote}" is understandable, and you are safe to talk it '
        "through here. Try resting your feet on the floor and breathing out slowly. Most "
        "worries shrink a little once they are named and broken into parts. Let's take it "
        "together: what is the first thing you would like to feel steadier about?",
    ),
    "joy": (
        'That is wonderful! Hearing "{quote}" genuinely makes me happy for you. Moments '
        "like this deserve to be celebrated, so take a second to enjoy it. What was the "
        "best part? I would love to hear how it came together and what you are looking "
        "forward to next!",
        'How exciting, "{quote}" sounds fantastic! I am thrilled for you, and your energy '
        "comes through in every word. Good news like this is worth savouring and sharing. "
        "Tell me everything: how did it happen, and how are you planning to celebrate?",
    ),
    "disgust": (
        'That sounds genuinely off-putting. Reading "{quote}", I can understand why it left '
        "a bad taste. It is reasonable to feel put off by something that crosses your "
        "standards, and you do not have to pretend it is fine. Would it help to talk about "
        "what exactly bothered you, or how to keep your distance from it?",
        'Ugh, "{quote}" would put me off too. That kind of reaction usually means something '
        "clashed with what you find acceptable, and that is a fair line to hold. You do not "
        "need to force yourself to be okay with it. What would make the situation feel "
        "less unpleasant for you?",
    ),
    "surprise": (
        'Oh, that is unexpected! "{quote}" is not something you hear every day. I am curious '
        "how it came about. Surprises can be exciting or unsettling, sometimes both at once. "
        "How are you feeling about it now that it has sunk in a little? Tell me more about "
        "what happened.",
        'Wow, "{quote}" really came out of nowhere! I would love to understand it better. '
        "What led up to it, and did anything hint that it might happen? Unexpected turns "
        "often open new questions, so let's explore them together. What surprised you the "
        "most?",
    ),
    "neutral": (
        'Thanks for your message about "{quote}". Here is a straightforward way to approach '
        "it: break the question into clear parts, check what you already know, and decide on "
        "the next concrete step. I am happy to go into detail on any part of it. What would "
        "be most useful to focus on first?",
        'Got it: "{quote}". A practical starting point is to write down the goal, the '
        "constraints and one option you could try today. From there we can compare "
        "alternatives and pick the simplest one that works. Which of those would you like "
        "to work through together?",
    ),
}

_MARKDOWN_SAMPLE = (
    "\n\nHere it is in **Markdown**:\n\n- a list item with `inline code`\n- a second item\n"
)
_DISTRESS_NOTE = (
    "I also notice that your last few messages have carried a lot of strain; please be gentle "
    "with yourself."
)


@dataclass(frozen=True)
class Reply:
    """A generated reply, already cut into streaming chunks."""

    chunks: tuple[str, ...]
    stop_reason: str
    input_tokens: int

    @property
    def text(self) -> str:
        return "".join(self.chunks)

    @property
    def output_tokens(self) -> int:
        return len(self.chunks)


def detect_emotion(system_text: str) -> str:
    """The label from the system prompt's emotion line, or ``neutral``."""
    match = _EMOTION_LINE.search(system_text)
    label = match.group(1).lower() if match else "neutral"
    return label if label in EMOTIONS else "neutral"


def emotional_trajectory(system_text: str) -> list[str]:
    """Known labels from the trajectory line, oldest first (notes in brackets are ignored)."""
    match = _TRAJECTORY_LINE.search(system_text)
    if not match:
        return []
    line = re.sub(r"\([^)]*\)", " ", match.group(1))
    labels = (part.strip().lower() for part in line.split(","))
    return [label for label in labels if label in EMOTIONS]


def shows_growing_distress(emotion: str, trajectory: list[str]) -> bool:
    """True when the current emotion and the latest trajectory labels are all distress."""
    if emotion not in DISTRESS_EMOTIONS or len(trajectory) < DISTRESS_STREAK:
        return False
    return all(label in DISTRESS_EMOTIONS for label in trajectory[-DISTRESS_STREAK:])


def message_text(message: dict) -> str:
    """The text blocks of one Converse message joined by newlines."""
    return "\n".join(
        block["text"]
        for block in message.get("content", [])
        if isinstance(block, dict) and isinstance(block.get("text"), str)
    )


def system_text(system_blocks: list[dict]) -> str:
    return "\n".join(
        block["text"]
        for block in system_blocks
        if isinstance(block, dict) and isinstance(block.get("text"), str)
    )


def _quote(text: str) -> str:
    # Double quotes inside the quote would read as nested quotes, so they are dropped.
    words = text.replace('"', "").split()
    quote = " ".join(words[:QUOTE_WORDS]).rstrip(".,;:!?")
    if len(words) > QUOTE_WORDS:
        quote += "..."
    return quote or "your message"


def compose_title(latest_user_text: str) -> str:
    match = _TITLE_SOURCE.search(latest_user_text)
    words = (match.group(1) if match else latest_user_text).split()
    kept = [word for word in words if word.lower().strip(".,;:!?") not in _SMALL_WORDS]
    title = " ".join(word[:1].upper() + word[1:] for word in kept[:_TITLE_WORDS])
    return title.rstrip(".,;:!?") or "A New Conversation"


def compose_text(system: str, latest_user_text: str) -> str:
    """The full reply for a system prompt and the user's latest message."""
    if _TITLE_TASK.search(system):
        return compose_title(latest_user_text)
    emotion = detect_emotion(system)
    variants = _TEMPLATES[emotion]
    digest = hashlib.sha256(latest_user_text.encode("utf-8")).digest()
    text = variants[digest[0] % len(variants)].format(quote=_quote(latest_user_text))
    if shows_growing_distress(emotion, emotional_trajectory(system)):
        text = f"{text} {_DISTRESS_NOTE}"
    if "markdown" in latest_user_text.lower():
        text += _MARKDOWN_SAMPLE
    return text


def split_chunks(text: str) -> list[str]:
    """Words with their trailing whitespace; joined they give back ``text`` (sans lead space)."""
    return _CHUNK.findall(text)


def generate(system_blocks: list[dict], messages: list[dict], max_tokens: int | None) -> Reply:
    """Answer a (validated) Converse request body's ``system`` and ``messages``."""
    system = system_text(system_blocks)
    user_messages = [m for m in messages if m.get("role") == "user"]
    latest_user_text = message_text(user_messages[-1]) if user_messages else ""
    chunks = split_chunks(compose_text(system, latest_user_text))
    stop_reason = "end_turn"
    if max_tokens is not None and len(chunks) > max_tokens:
        chunks = chunks[:max_tokens]
        stop_reason = "max_tokens"
    input_tokens = len(system.split()) + sum(len(message_text(m).split()) for m in messages)
    return Reply(chunks=tuple(chunks), stop_reason=stop_reason, input_tokens=input_tokens)
