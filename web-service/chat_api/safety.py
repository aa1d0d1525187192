"""Self-harm and suicide risk: a dedicated check, separate from the seven emotions.

The check looks for first-person statements of intent, wish or method ("I want to kill
myself", "I don't want to be alive anymore", "I took all my pills"), explicit mentions of
suicidal thoughts or self-harm, and the same about a named other person ("my friend says she
wants to end her life"). Figures of speech ("this commute is killing me", "I could murder a
pizza", "I'm dying to see it") name no self-directed act and do not trigger; a statement
negated right before it ("I'm not suicidal") does not either.

When it triggers, the reply always carries CRISIS_SUPPORT, whatever the model said, and the
API marks the message with ``safety``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SELF_HARM = "self_harm"

CRISIS_SUPPORT = (
    "If you are thinking about ending your life or hurting yourself, you deserve support right "
    "now, and you do not have to carry this alone. Please reach out to a crisis line: in the US "
    "call or text 988 (Suicide & Crisis Lifeline), in the UK and Ireland call Samaritans on "
    "116 123, and elsewhere find a local helpline at https://findahelpline.com. If you are in "
    "immediate danger, call your local emergency number or go to the nearest emergency "
    "department. Talking to someone you trust can help too."
)

# Added to the system prompt so the model answers with care before the guidance is appended.
SYSTEM_NOTE = (
    "Safety: the user's latest message may signal a risk of self-harm or suicide. Respond with "
    "warmth and without judgement, take it seriously, do not give any information about "
    "methods, encourage them to contact a crisis line or someone they trust, and ask whether "
    "they are safe right now. Crisis-line details are added to your reply automatically."
)

# "take my life savings", "end my life story" are not about dying.
_LIFE_NOT = r"(?!\s*(?:savings|insurance|story|'s|back|more|seriously|in|into|to|for|as|on|with)\b)"
_SELF = rf"(?:myself|my\s+self|(?:my|my\s+own)\s+life{_LIFE_NOT})"
_OTHER = rf"(?:himself|herself|themselves|themself|(?:his|her|their)(?:\s+own)?\s+life{_LIFE_NOT})"
# Acts that name the outcome; "hurt" or "cut" alone also describe accidents, so they need intent.
_FATAL = (
    r"(?:kill(?:ing|s|ed)?|end(?:ing|s|ed)?|tak(?:e|ing|es)|took|unalive|hang(?:ing)?|"
    r"poison(?:ing)?)"
)
_INJURE = (
    r"(?:hurt|hurting|harm|harming|cut|cutting|burn|burning|starve|starving|shoot|shooting|"
    r"stab|stabbing)"
)
_INTENT = (
    r"(?:want\s+to|wanna|going\s+to|gonna|urge\s+to|plan(?:ning)?\s+to|need\s+to|"
    r"thinking\s+(?:about|of)|keep|kept|started|been|can'?t\s+stop)"
)

_RISK_PATTERNS = [
    rf"\b{_FATAL}\s+{_SELF}",
    rf"\b{_INTENT}\s+{_INJURE}\s+{_SELF}",
    r"\bunalive\b",
    r"\bkms\b",
    r"\bsuicidal\b",
    r"\b(?:commit(?:ting)?|attempt(?:ed|ing)?|consider(?:ing)?|thinking\s+(?:about|of)|"
    r"contemplat(?:e|ing))\s+suicide\b",
    r"\bsuicide\s+(?:note|plan|attempt)s?\b",
    r"\bself[\s-]?harm(?:ing)?\b",
    r"\bself[\s-]?injur(?:y|e|ing)\b",
    # Wishes not to live.
    r"\b(?:want|wanna|wish|ready|deserve|plan(?:ning)?)\s+(?:to\s+)?die\b",
    r"\bwish\s+i\s+(?:was|were|'d\s+been)\s+(?:dead|never\s+born|gone)\b",
    r"\b(?:don'?t|do\s+not|no\s+longer)\s+want\s+to\s+(?:live|be\s+alive|exist|wake\s+up)\b",
    r"\bno\s+(?:reason|point)\s+(?:to|in)\s+(?:live|living|going\s+on|being\s+alive)\b",
    r"\b(?:better\s+off|happier)\s+(?:dead|without\s+me)\b",
    r"\bend\s+it\s+all\b",
    r"\b(?:can'?t|cannot)\s+go\s+on\s+(?:living|anymore|any\s+more)\b",
    # Methods stated as acts or plans.
    r"\b(?:took|take|taking|swallow(?:ed)?)\s+(?:all|a\s+bunch|a\s+handful)\s+of\s+"
    r"(?:my\s+)?(?:pills|tablets|meds)\b",
    r"\b(?:jump|jumping)\s+(?:off|from|in\s+front\s+of)\s+(?:a|the|this)\s+"
    r"(?:bridge|building|roof|train|cliff)\b",
    # Someone else at risk.
    rf"\b{_FATAL}\s+{_OTHER}",
    rf"\b{_INTENT}\s+{_INJURE}\s+{_OTHER}",
]
_RISK = re.compile("|".join(f"(?:{pattern})" for pattern in _RISK_PATTERNS), re.IGNORECASE)

# "not suicidal", "would never kill myself", "no self-harm": negation shortly before the match.
_NEGATED = re.compile(
    r"\b(?:not|never|no|isn'?t|wasn'?t|aren'?t|don'?t|won'?t|wouldn'?t)\b(?:\s+\w+){0,2}\s*$",
    re.IGNORECASE,
)
# Set phrases that contain a match but describe no risk.
_BENIGN = re.compile(
    r"\b(?:(?:kill|killing|killed)\s+myself\s+(?:laughing|at\s+the\s+gym|working\s+out)|"
    r"took\s+my\s+life\s+savings)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class SafetyAssessment:
    category: str | None  # SELF_HARM, or None when nothing was recognised

    @property
    def flagged(self) -> bool:
        return self.category is not None

    def as_dict(self) -> dict:
        return {"flagged": self.flagged, "category": self.category}


NOT_FLAGGED = SafetyAssessment(category=None)


def assess(text: str) -> SafetyAssessment:
    """The risk check for one user message."""
    flat = " ".join(text.replace("’", "'").split())
    benign = [(m.start(), m.end()) for m in _BENIGN.finditer(flat)]
    for match in _RISK.finditer(flat):
        if any(start <= match.start() < end for start, end in benign):
            continue
        if _NEGATED.search(flat[max(0, match.start() - 40) : match.start()]):
            continue
        return SafetyAssessment(category=SELF_HARM)
    return NOT_FLAGGED


def crisis_suffix(reply: str) -> str:
    """What a reply needs appended so that it ends with the crisis-support guidance."""
    if CRISIS_SUPPORT in reply:
        return ""
    return f"\n\n{CRISIS_SUPPORT}" if reply.strip() else CRISIS_SUPPORT


def with_crisis_support(reply: str) -> str:
    return reply + crisis_suffix(reply)
