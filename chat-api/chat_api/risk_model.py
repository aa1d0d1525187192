"""The self-harm risk classifier: a small linear head over features the emotion model already
computes, so the chat API runs the sentence encoder once per message for both.

Features: the emotion model's sentence-encoder pooled states (standardised), and TF-IDF word
1-2-grams of the risk corpus with negated words marked ("not suicidal" also gives "¬suicidal"),
computed with the emotion model's own ``word_terms``. Output: one probability per level in
LEVELS. Trained by ``scripts/models/risk_train.py`` on ``scripts/models/risk_corpus.tsv``; the
decision thresholds in the artifact were chosen by cross-validation on that corpus.

Artifact (``risk-model.zip``): ``meta.json`` (levels, thresholds, sizes, the encoder it was
trained against), ``vocabulary.txt`` (one word n-gram a line), ``idf.f32``, and ``weights.f32``
(little-endian float32, ``(states + words + 1) x levels`` row-major, standardisation folded in,
the intercept row last).
"""

from __future__ import annotations

import json
import math
import zipfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .emotion.linear import word_terms

ARTIFACT = Path(__file__).with_name("risk-model.zip")
LEVELS = ("none", "concern", "risk", "urgent")
FORMAT_VERSION = 1


@dataclass(frozen=True)
class Thresholds:
    """A level is reached when the probability of it or anything above reaches its threshold."""

    concern: float
    risk: float
    urgent: float


class RiskHead:
    def __init__(self, path: Path = ARTIFACT) -> None:
        with zipfile.ZipFile(path) as archive:
            meta = json.loads(archive.read("meta.json"))
            if meta.get("format_version") != FORMAT_VERSION or tuple(meta["levels"]) != LEVELS:
                raise ValueError(f"{path} has another layout; run make train-risk")
            terms = archive.read("vocabulary.txt").decode("utf-8").split("\n")
            idf = np.frombuffer(archive.read("idf.f32"), dtype="<f4").astype(np.float64)
            weights = np.frombuffer(archive.read("weights.f32"), dtype="<f4").astype(np.float64)
        self.meta = meta
        self._states = int(meta["state_features"])
        self._index = {term: column for column, term in enumerate(terms)}
        self._idf = idf.tolist()
        self._weights = weights.reshape(-1, len(LEVELS))
        if len(self._weights) != self._states + len(terms) + 1 or len(idf) != len(terms):
            raise ValueError(f"{path}: weights, idf and vocabulary disagree")
        self.thresholds = Thresholds(**meta["thresholds"])

    def probabilities(self, text: str, states: np.ndarray) -> np.ndarray:
        """One probability per level, for a text and the encoder's pooled states of it."""
        if len(states) != self._states:
            raise ValueError(f"expected {self._states} encoder states, got {len(states)}")
        logits = self._weights[-1] + states.astype(np.float64) @ self._weights[: self._states]
        columns: list[int] = []
        values: list[float] = []
        for term, count in Counter(word_terms(text)).items():
            column = self._index.get(term)
            if column is not None:
                columns.append(column)
                values.append((1.0 + math.log(count)) * self._idf[column])
        if columns:
            vector = np.array(values)
            rows = [self._states + column for column in columns]
            logits += (vector / np.sqrt(vector @ vector)) @ self._weights[rows]
        exps = np.exp(logits - logits.max())
        return exps / exps.sum()

    def level(self, probabilities: np.ndarray) -> str:
        """The highest level whose cumulative probability (it or above) reaches its threshold."""
        at_least = np.cumsum(probabilities[::-1])[::-1]  # P(level >= each)
        for position in (3, 2, 1):
            if at_least[position] >= getattr(self.thresholds, LEVELS[position]):
                return LEVELS[position]
        return "none"
