"""The trained detector: TF-IDF word and character n-grams into a multinomial logistic
regression, plus the curated cue prior (cues.py), evaluated in pure Python from a small artifact
(no numpy or scikit-learn at run time).

The training script gives word_terms and char_terms below to scikit-learn's TfidfVectorizer as
its analyzers, and the weighting here is the vectorizer's (sublinear tf times idf, each block
L2-normalised on its own), so the served scores equal the trained model's. The training script
checks that equality on the dev split before it writes the artifact.

Artifact (``emotion-model.zip``): ``meta.json`` (labels, features version, n-gram ranges,
block sizes, per-label bias, cue weight), ``vocabulary.txt`` (one feature a line, in column
order: the word block, then the char block), ``idf.f32`` and ``weights.f32`` (little-endian
float32; weights are ``n_features x n_labels`` row-major, plus one intercept row at the end).
"""

from __future__ import annotations

import json
import math
import re
import sys
import zipfile
from array import array
from collections import Counter
from pathlib import Path

from . import LABELS, Emotion
from .cues import cue_counts

ARTIFACT = Path(__file__).with_name("emotion-model.zip")
FEATURES_VERSION = 1  # bump when word_terms or char_terms change: old artifacts are refused
TOKEN = re.compile(r"(?u)\b\w+\b|[!?]")
# "n't" splits into "don" + "t", so "t" marks a negation too.
NEGATIONS = frozenset({"not", "no", "never", "t", "cannot", "nothing", "nobody", "nor", "without"})
NEGATION_SCOPE = 3
NEGATED = "\N{NOT SIGN}"  # no token contains it, so a negated term never collides with a word
_WHITE_SPACES = re.compile(r"\s\s+")


def word_terms(text: str, ngrams: tuple[int, int] = (1, 2)) -> list[str]:
    """Lowercased word n-grams, plus each of the few words after a negation marked as negated
    ("not happy" also gives "¬happy"), so that negated cues get their own weights."""
    tokens = TOKEN.findall(text.lower())
    low, high = ngrams
    terms = tokens[:] if low == 1 else []
    for n in range(max(low, 2), high + 1):
        terms.extend(" ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1))
    for position, token in enumerate(tokens):
        if token in NEGATIONS:
            for follower in tokens[position + 1 : position + 1 + NEGATION_SCOPE]:
                if follower in ("!", "?"):
                    break
                terms.append(NEGATED + follower)
    return terms


def char_terms(text: str, ngrams: tuple[int, int] = (2, 5)) -> list[str]:
    """Lowercased character n-grams inside word boundaries (scikit-learn's ``char_wb``)."""
    low, high = ngrams
    terms: list[str] = []
    for word in _WHITE_SPACES.sub(" ", text.lower()).split():
        padded = f" {word} "
        length = len(padded)
        for n in range(low, high + 1):
            if n >= length:
                terms.append(padded)  # a short word counts once, as in scikit-learn
                break
            terms.extend(padded[i : i + n] for i in range(length - n + 1))
    return terms


def _floats(raw: bytes) -> array:
    values = array("f")
    values.frombytes(raw)
    if sys.byteorder != "little":
        values.byteswap()
    return values


class LinearDetector:
    def __init__(self, path: Path = ARTIFACT) -> None:
        with zipfile.ZipFile(path) as archive:
            meta = json.loads(archive.read("meta.json"))
            terms = archive.read("vocabulary.txt").decode("utf-8").split("\n")
            self._idf = _floats(archive.read("idf.f32"))
            self._weights = _floats(archive.read("weights.f32"))
        if tuple(meta["labels"]) != LABELS:
            raise ValueError(f"{path} was trained for labels {meta['labels']}, not {LABELS}")
        self.meta = meta
        words = meta["word_features"]
        if len(terms) != words + meta["char_features"]:
            raise ValueError(f"{path}: vocabulary and meta.json disagree")
        # Two indexes: a word ("ok") can also be a char n-gram of the other block.
        self._word_index = {term: column for column, term in enumerate(terms[:words])}
        self._char_index = {term: words + n for n, term in enumerate(terms[words:])}
        if meta.get("features_version") != FEATURES_VERSION:
            raise ValueError(f"{path} was built for other features; run make train-emotion")
        self._word_ngrams = tuple(meta["word_ngram_range"])
        self._char_ngrams = tuple(meta["char_ngram_range"])
        self._labels = len(LABELS)
        intercept_at = len(terms) * self._labels
        intercept = self._weights[intercept_at : intercept_at + self._labels]
        # The tuned per-label bias shifts the decision towards the macro-F1 optimum.
        self._base = [float(b) + float(a) for b, a in zip(intercept, meta["bias"], strict=True)]
        self._cue_weight = float(meta["cue_weight"])

    def _add_block(self, logits: list[float], terms: list[str], index: dict[str, int]) -> None:
        idf, weights, labels = self._idf, self._weights, self._labels
        features: list[tuple[int, float]] = []
        norm = 0.0
        for term, count in Counter(terms).items():
            column = index.get(term)
            if column is None:
                continue
            value = (1.0 + math.log(count)) * idf[column]
            features.append((column, value))
            norm += value * value
        if not features:
            return
        scale = 1.0 / math.sqrt(norm)
        for column, value in features:
            value *= scale
            row = column * labels
            for label in range(labels):
                logits[label] += value * weights[row + label]

    def logits(self, text: str) -> list[float]:
        logits = list(self._base)
        self._add_block(logits, word_terms(text, self._word_ngrams), self._word_index)
        self._add_block(logits, char_terms(text, self._char_ngrams), self._char_index)
        if self._cue_weight:
            for label, count in enumerate(cue_counts(text)):
                logits[label] += self._cue_weight * count
        return logits

    def detect(self, text: str) -> Emotion:
        if not text.strip():
            return Emotion(
                label="neutral", scores={label: float(label == "neutral") for label in LABELS}
            )
        logits = self.logits(text)
        peak = max(logits)
        exps = [math.exp(value - peak) for value in logits]
        total = sum(exps)
        scores = {label: round(exp / total, 4) for label, exp in zip(LABELS, exps, strict=True)}
        best = max(range(len(LABELS)), key=logits.__getitem__)
        return Emotion(label=LABELS[best], scores=scores)
