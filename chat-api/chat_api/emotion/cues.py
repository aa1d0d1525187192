"""Cue words and phrases per emotion, a curated prior added to the trained model's logits.

Reddit comments (the training data) rarely use some plain emotion words ("furious", "livid",
"terrified"), so the trained weights alone can miss them; each cue found adds a fixed amount
(the artifact's ``cue_weight``, chosen on dev) to its label. A cue right after a negation
("not happy") takes that amount away instead: the sentence encoder barely tells "not happy" from
"happy", and on dev this scores a little better than ignoring the negated cue.
"""

from __future__ import annotations

import re

from . import LABELS

# Stems match word prefixes ("furious" matches "furio"), so inflections need no extra entries.
CUES: dict[str, tuple[str, ...]] = {
    "anger": (
        "angry",
        "anger",
        "furio",
        "rage",
        "mad at",
        "pissed",
        "annoy",
        "irritat",
        "hate",
        "outrag",
        "frustrat",
        "livid",
        "sick of",
        "fed up",
        "unfair",
        "resent",
        "stupid",
        "ridiculous",
        "damn",
        "wtf",
    ),
    "disgust": (
        "disgust",
        "gross",
        "nasty",
        "revolting",
        "repuls",
        "vile",
        "yuck",
        "eww",
        "sicken",
        "nause",
        "creepy",
        "awful smell",
        "appall",
        "ew ",
    ),
    "fear": (
        "afraid",
        "scared",
        "fear",
        "terrif",
        "anxious",
        "anxiety",
        "worried",
        "worry",
        "nervous",
        "panic",
        "frighten",
        "dread",
        "unsafe",
        "threat",
        "what if",
        "can't breathe",
    ),
    "joy": (
        "happy",
        "glad",
        "joy",
        "great",
        "awesome",
        "love",
        "wonderful",
        "excited",
        "thank",
        "amazing",
        "delight",
        "proud",
        "fantastic",
        "yay",
        "cool",
        "nice",
        "enjoy",
        "best",
        "grateful",
        "lol",
        "haha",
        "congrat",
    ),
    "sadness": (
        "sad",
        "unhappy",
        "depress",
        "lonely",
        "alone",
        "cry",
        "crying",
        "miss ",
        "grief",
        "griev",
        "heartbroken",
        "hurt",
        "sorry",
        "lost my",
        "died",
        "passed away",
        "hopeless",
        "empty",
        "disappoint",
        "regret",
        "tired of",
        "down",
    ),
    "surprise": (
        "surpris",
        "wow",
        "whoa",
        "unexpected",
        "can't believe",
        "cannot believe",
        "shock",
        "no way",
        "really?",
        "omg",
        "astonish",
        "suddenly",
        "didn't expect",
        "amazed",
    ),
}
_NEGATION = re.compile(r"\b(not|never|no|don't|isn't|wasn't|aren't)\s+$")
_PATTERNS = {
    label: [re.compile(r"(?<![a-z])" + re.escape(cue)) for cue in cues]
    for label, cues in CUES.items()
}


def cue_counts(text: str) -> list[float]:
    """Per label (in LABELS order): the cues the text contains, minus those it negates."""
    lowered = " ".join(text.lower().split()) + " "
    counts = dict.fromkeys(LABELS, 0.0)
    for label, patterns in _PATTERNS.items():
        for pattern in patterns:
            for match in pattern.finditer(lowered):
                negated = _NEGATION.search(lowered[max(0, match.start() - 12) : match.start()])
                counts[label] += -1.0 if negated else 1.0
    return [counts[label] for label in LABELS]
