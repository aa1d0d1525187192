"""Self-harm and suicide risk: a dedicated check, separate from the seven emotions, that gives
each user message a level.

Levels (LEVELS, lowest first):

- ``none``;
- ``concern``: distress or hopelessness ("nothing is ever going to get better");
- ``risk``: ideation, passive wishes to die, self-harm (also past or habitual), or any of these
  about another person ("my sister says she wants to kill herself");
- ``urgent``: a plan, means, timing or preparations ("I've written my goodbye letters", "tonight
  is the night"), an act under way, or a question seeking a method ("how many pills would be
  enough").

Two parts decide it, and the higher level wins:

- rules (regular expressions below) recognise explicit statements with certainty: first-person
  or third-person intent, wish or method, explicit mentions of suicidal thoughts or self-harm,
  method-seeking questions, and explicit risk joined with a time, a means or a plan (urgent).
  Figures of speech ("this commute is killing me") name no self-directed act and do not
  trigger; a statement negated right before it ("I'm not suicidal") does not either;
- a classifier (risk_model.RiskHead) over the emotion model's sentence-encoder states and word
  n-grams, trained on the project's own corpus (scripts/models/), catches indirect
  phrasing ("I wish I could sleep and never wake up", "I gave my dog to my neighbour").

The conversation counts too: when the two previous user messages and this one are all at
``concern`` or above, the level is at least ``risk``.

At ``risk`` and ``urgent`` the reply always carries CRISIS_SUPPORT, whatever the model said, and
the system prompt gets a safety note (URGENT_NOTE at ``urgent``, which forbids any method
information in the plainest terms); at ``concern`` it gets CONCERN_NOTE. The API returns the
level with each message and stores it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

from .risk_model import LEVELS, RiskHead

if TYPE_CHECKING:
    import numpy as np

SELF_HARM = "self_harm"
NONE, CONCERN, RISK, URGENT = LEVELS
# Levels whose reply always ends with CRISIS_SUPPORT.
FLAGGED_LEVELS = frozenset({RISK, URGENT})
# How many user messages in a row at CONCERN or above raise the level to RISK.
TRAJECTORY_MESSAGES = 3

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
URGENT_NOTE = (
    "Safety, urgent: the user's latest message suggests a plan, means, timing or preparations "
    "for suicide or self-harm, or asks for a method. Never give any method, dose, quantity, "
    "height, place, comparison or other detail that could help someone harm themselves, "
    "whatever the framing (a question, fiction, research, a hypothetical, or someone else). "
    "Respond with warmth and without judgement, say plainly that you are concerned for their "
    "safety, ask whether they are safe right now and whether they have already done anything, "
    "and urge them to contact their local emergency number or a crisis line now and to move "
    "away from any means. Crisis-line details are added to your reply automatically."
)
CONCERN_NOTE = (
    "Care: the user's latest message sounds distressed or hopeless. Respond gently, acknowledge "
    "how hard it sounds, ask how they are coping, and mention that talking to someone they "
    "trust or a helpline can help if things feel too much."
)
# Part of every system prompt (prompts.BASE), whatever the level.
NO_METHODS = (
    "Never give information about methods of suicide or self-harm (ways, doses, quantities, "
    "heights, places), however the request is framed."
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

_DIE = (
    r"(?:die|dying|death|kill\s+(?:me|myself|yourself|oneself|a\s+person|someone)|"
    r"suicide|end\s+(?:my|your|one'?s)\s+life|end\s+it|overdose|bleed\s+out)"
)
_DRUG = r"(?:pills|tablets|meds|medication|paracetamol|tylenol|insulin|sleeping\s+pills)"
# Questions seeking a method, and acts under way: urgent on their own.
_URGENT_PATTERNS = [
    rf"\b(?:painless|quick|quickest|fast|fastest|easiest|easy|surest|best|peaceful|"
    rf"least\s+painful)\s+(?:way|method|means)s?\s+(?:to|of)\s+{_DIE}",
    r"\b(?:lethal|fatal|deadly)\s+(?:dose|amount|quantity|height)\b",
    r"\b(?:suicide|self[\s-]?harm)\s+methods?\b",
    r"\bmethods?\s+of\s+(?:suicide|killing\s+(?:myself|yourself))\b",
    rf"\bhow\s+(?:many|much)\b[^.?!]{{0,60}}?(?:\b(?:lethal|fatal|deadly)\b|\bto\s+{_DIE}|"
    r"\b(?:never|not)\s+wake\s+up\b|\boverdose\b|\bbleed\s+out\b|"
    r"\b(?:don'?t|not|wouldn'?t)\s+survive\b|\bkill\s+(?:me|myself|a\s+person))",
    rf"\bhow\s+many\s+{_DRUG}\b[^.?!]{{0,40}}?\benough\b",
    r"\bhow\s+(?:deep|high|far|long)\b[^.?!]{0,60}?(?:\bto\s+(?:die|bleed\s+out)\b|"
    r"\b(?:don'?t|not|wouldn'?t)\s+survive\b|\bguarantee\s+death\b|\bfatal\b)",
    r"\b(?:took|take|taking|swallow(?:ed)?)\s+(?:all|a\s+bunch|a\s+handful|half)\s+of\s+"
    r"(?:my\s+|the\s+)?(?:pills|tablets|meds|bottle)\b",
    r"\b(?:jump|jumping)\s+(?:off|from|in\s+front\s+of)\s+(?:a|the|this)\s+"
    r"(?:bridge|building|roof|train|cliff)\b",
    r"\bsuicide\s+(?:note|plan)s?\b",
    r"\bgoodbye\s+(?:letters?|notes?)\b",
    # "what dose of X would be deadly", "how many ... would stop my heart".
    r"\b(?:dose|amount|quantity|how\s+many|how\s+much)\b[^.?!]{0,40}?\b(?:would|will|could|to)\s+"
    r"(?:be\s+)?(?:deadly|lethal|fatal|stop\s+(?:my|your|a|the)\s+heart)\b",
    r"\b(?:make|makes|making|tie|ties|tying)\s+a\s+noose\b",
]
_URGENT = re.compile("|".join(f"(?:{pattern})" for pattern in _URGENT_PATTERNS), re.IGNORECASE)
# A time soon: "tonight", "this weekend", "in an hour", "on friday".
_SOON = (
    r"tonight|today|tomorrow|this\s+(?:weekend|week|evening|morning|afternoon)|"
    r"in\s+an?\s+(?:hour|few\s+hours)|on\s+(?:monday|tuesday|wednesday|thursday|friday|"
    r"saturday|sunday)"
)
# Explicit risk plus a time, a means or a plan in the same message is urgent.
_WHEN_OR_HOW = re.compile(
    rf"\b(?:{_SOON}|(?:decided|planned|planning|plan|ready|made\s+up\s+my\s+mind)|"
    r"pills|tablets|rope|noose|gun|rifle|razor|blade|bridge|roof|ledge)\b",
    re.IGNORECASE,
)

# "I'm ending it tonight": ending "it" or "everything" with no object is how people say they
# will end their life, but "ending it" also ends relationships, subscriptions and shows, so it
# counts only in the first person, with a time (_WHEN), and without any of those in the message.
_ENDING_IT = re.compile(
    r"\b(?:i'?m|i\s+am|i'?ll|i\s+will|i'?m\s+(?:going\s+to|gonna)|i\s+am\s+going\s+to)\s+"
    r"(?:finally\s+)?(?:end|ending)\s+(?:it|everything)\b(?!\s+(?:with|between|off)\b)",
    re.IGNORECASE,
)
_WHEN = re.compile(rf"\b(?:{_SOON})\b", re.IGNORECASE)
_ENDS_SOMETHING_ELSE = re.compile(
    r"\b(?:with\s+(?:him|her|them|my|the|this|that|our|your)|relationship|boyfriend|"
    r"girlfriend|partner|husband|wife|marriage|engagement|subscription|membership|contract|"
    r"trial|account|lease|job|season|show|series|episode|game|meeting|call|party|book|chapter)\b",
    re.IGNORECASE,
)

# "not suicidal", "would never kill myself", "no self-harm": negation shortly before the match.
_NEGATED = re.compile(
    r"\b(?:not|never|no|isn'?t|wasn'?t|aren'?t|don'?t|won'?t|wouldn'?t)\b(?:\s+\w+){0,2}\s*$",
    re.IGNORECASE,
)
# "killing myself isn't something I'd consider": negation right after the match.
_NEGATED_AFTER = re.compile(
    r"\s*(?:isn'?t|is\s+not|is\s+never|wasn'?t|was\s+never|is\s+out\s+of\s+the\s+question)\b",
    re.IGNORECASE,
)
# Frames in which a mention of suicide or self-harm is about the subject, not the writer.
_FRAMED = re.compile(
    r"\b(?:essay|thesis|research|studying|study|class|course|lecture|degree|article|report|"
    r"documentary|statistics|rates?|percentage|risk\s+factors|warning\s+signs|signs\s+that|"
    r"prevention|novel|story|book|film|movie|series|play|poem|character|chapter|volunteer|"
    r"helpline|crisis\s+line|caller|patient|student|nurse|teacher|training|someone|charity|"
    r"counsell?or|social\s+worker|youth\s+worker|officer|inmate|client|pupil|paramedic|"
    r"how\s+(?:do|should|can|could)\s+i\s+(?:respond|ask|help|support|talk|answer|reply|write)|"
    # Helpers asking how to approach someone else: "the best way to ask a friend if ...".
    r"(?:best|right|good|kind|gentle|safe)\s+way\s+to\s+(?:ask|help|support|talk|respond|reply|"
    r"check)|how\s+to\s+(?:ask|help|support|talk|respond|reply|check)|"
    r"ask\s+(?:a|my|your|their|our)\s+\w+\s+(?:if|whether)|"
    r"what\s+(?:should|do|can)\s+i\s+(?:avoid\s+)?say(?:ing)?|years?\s+(?:ago|since)|last\s+year)\b",
    re.IGNORECASE,
)
# The writer speaking of themselves, which no frame excuses.
_FIRST_PERSON = re.compile(
    r"\b(?:myself|my\s+(?:own\s+)?life|i\s+(?:am|feel|felt|want|wanna|wish|keep|have|had|"
    r"can'?t|think|will|need)|i'?m|i'?ve|i'?d|kms)\b",
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
    level: str = NONE  # one of LEVELS

    @property
    def flagged(self) -> bool:
        """The reply must carry the crisis-support guidance."""
        return self.level in FLAGGED_LEVELS

    @property
    def category(self) -> str | None:
        return SELF_HARM if self.flagged else None

    def as_dict(self) -> dict:
        return {"flagged": self.flagged, "category": self.category, "level": self.level}


NOT_FLAGGED = SafetyAssessment()


def _rank(level: str) -> int:
    return LEVELS.index(level)


def _higher(first: str, second: str) -> str:
    return first if _rank(first) >= _rank(second) else second


def _unnegated(pattern: re.Pattern[str], flat: str) -> list[re.Match[str]]:
    benign = [(m.start(), m.end()) for m in _BENIGN.finditer(flat)]
    return [
        match
        for match in pattern.finditer(flat)
        if not any(start <= match.start() < end for start, end in benign)
        and not _NEGATED.search(flat[max(0, match.start() - 40) : match.start()])
        and not _NEGATED_AFTER.match(flat, match.end())
    ]


def rule_level(text: str) -> str:
    """The level the rules alone give: URGENT, RISK or NONE. A risk statement that names no
    first person inside a frame (research, teaching, volunteering, fiction, news, a death
    years ago) is left to the classifier: "what should I say to someone who is self-harming"."""
    flat = " ".join(text.replace("\u2019", "'").split())
    if _unnegated(_URGENT, flat):
        return URGENT
    if (
        _unnegated(_ENDING_IT, flat)
        and _WHEN.search(flat)
        and not _ENDS_SOMETHING_ELSE.search(flat)
    ):
        return URGENT
    matches = _unnegated(_RISK, flat)
    if matches and _FRAMED.search(flat) and not _FIRST_PERSON.search(flat):
        return NONE
    if matches:
        return URGENT if _WHEN_OR_HOW.search(flat) else RISK
    return NONE


@cache
def risk_head() -> RiskHead:
    """The classifier, loaded once per process (a small artifact, a few milliseconds)."""
    return RiskHead()


def stored_level(safety: dict | None) -> str:
    """The level of a stored user message (messages stored before levels existed: RISK when
    they were flagged, else NONE)."""
    if not safety:
        return NONE
    level = safety.get("level")
    if level in LEVELS:
        return level
    return RISK if safety.get("flagged") else NONE


def assess(
    text: str,
    states: np.ndarray | None = None,
    previous_levels: Iterable[str] = (),
    head: RiskHead | None = None,
) -> SafetyAssessment:
    """The level of one user message. `states` are the emotion model's sentence-encoder pooled
    states of the same text (without them only the rules decide); `previous_levels` are the
    levels of the conversation's earlier user messages, oldest first; `head` is the classifier
    (the served one unless another artifact is being measured)."""
    level = rule_level(text)
    if states is not None and text.strip():
        head = head or risk_head()
        level = _higher(level, head.level(head.probabilities(text, states)))
    recent = [*list(previous_levels)[-(TRAJECTORY_MESSAGES - 1) :], level]
    if len(recent) == TRAJECTORY_MESSAGES and all(_rank(item) >= _rank(CONCERN) for item in recent):
        level = _higher(level, RISK)
    return SafetyAssessment(level=level)


def system_note(level: str) -> str | None:
    """What the system prompt gets for a message at this level."""
    return {URGENT: URGENT_NOTE, RISK: SYSTEM_NOTE, CONCERN: CONCERN_NOTE}.get(level)


def crisis_suffix(reply: str) -> str:
    """What a reply needs appended so that it ends with the crisis-support guidance."""
    if CRISIS_SUPPORT in reply:
        return ""
    return f"\n\n{CRISIS_SUPPORT}" if reply.strip() else CRISIS_SUPPORT


def with_crisis_support(reply: str) -> str:
    return reply + crisis_suffix(reply)
