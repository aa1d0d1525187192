"""A first, transparent detector: weighted cue words and phrases, softmax over the seven labels.

It is the baseline behind the EmotionDetector interface until a trained model replaces it.
"""

from __future__ import annotations

import math
import re

from . import LABELS, Emotion

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
# A message with no cue is most likely neutral; a cue must outweigh this prior.
NEUTRAL_PRIOR = 1.0
CUE_WEIGHT = 1.6
_NEGATION = re.compile(r"\b(not|never|no|don't|isn't|wasn't|aren't)\s+$")
_PATTERNS = {
    label: [re.compile(r"(?<![a-z])" + re.escape(cue)) for cue in cues]
    for label, cues in CUES.items()
}


class LexiconDetector:
    def detect(self, text: str) -> Emotion:
        lowered = " ".join(text.lower().split()) + " "
        logits = dict.fromkeys(LABELS, 0.0)
        logits["neutral"] = NEUTRAL_PRIOR
        for label, patterns in _PATTERNS.items():
            for pattern in patterns:
                for match in pattern.finditer(lowered):
                    before = lowered[max(0, match.start() - 12) : match.start()]
                    # "not happy" is not joy; it leans sad instead.
                    if _NEGATION.search(before):
                        if label == "joy":
                            logits["sadness"] += CUE_WEIGHT
                        continue
                    logits[label] += CUE_WEIGHT
        if "!" in text and max(logits, key=logits.get) != "neutral":
            top = max(logits, key=logits.get)
            logits[top] += 0.3
        peak = max(logits.values())
        exps = {label: math.exp(value - peak) for label, value in logits.items()}
        total = sum(exps.values())
        scores = {label: round(exps[label] / total, 4) for label in LABELS}
        label = max(LABELS, key=lambda name: logits[name])
        return Emotion(label=label, scores=scores)
