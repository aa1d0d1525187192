"""The trained detector: a linear model over two feature sets, TF-IDF word and character n-grams
(dictionary lookups, weighted with numpy) and the pooled states of a small sentence encoder
(encoder.py, run by ONNX Runtime), plus the curated cue prior (cues.py). No scikit-learn or
torch at run time.

The training script gives word_terms and char_terms below to scikit-learn's TfidfVectorizer as
its analyzers, and the weighting here is the vectorizer's (sublinear tf times idf, each block
L2-normalised on its own), so the served scores equal the trained model's. The training script
checks that equality on the dev split before it writes the artifact.

Artifact (``emotion-model.zip``): ``meta.json`` (labels, features version, n-gram ranges,
block sizes, per-label bias, cue weight, encoder settings), ``vocabulary.txt`` (one feature a
line, in column order: the word block, then the char block), ``idf.f32`` and ``weights.f32``
(little-endian float32; weights are ``n_features x n_labels`` row-major, plus one intercept row
at the end), ``encoder.onnx`` (the sentence encoder with its own head, whose logits are added
with the weight ``encoder.weight``) and ``tokenizer.json`` (its WordPiece tokenizer).
"""

from __future__ import annotations

import json
import math
import re
import zipfile
from collections import Counter
from pathlib import Path

import numpy as np

from . import LABELS, Emotion
from .cues import cue_counts
from .encoder import SentenceEncoder

ARTIFACT = Path(__file__).with_name("emotion-model.zip")
# Bump when word_terms, char_terms or the artifact layout change: old artifacts are refused.
# 3: the encoder graph also outputs its pooled states (read by the self-harm risk head).
FEATURES_VERSION = 3
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


def _floats(raw: bytes) -> np.ndarray:
    return np.frombuffer(raw, dtype="<f4").astype(np.float64)


class LinearDetector:
    def __init__(self, path: Path = ARTIFACT) -> None:
        with zipfile.ZipFile(path) as archive:
            meta = json.loads(archive.read("meta.json"))
            if meta.get("features_version") != FEATURES_VERSION:
                raise ValueError(f"{path} was built for other features; run make train-emotion")
            terms = archive.read("vocabulary.txt").decode("utf-8").split("\n")
            # A list: the per-term lookups below are faster on Python floats than on numpy's.
            self._idf = _floats(archive.read("idf.f32")).tolist()
            self._weights = _floats(archive.read("weights.f32")).reshape(-1, len(LABELS))
            encoder_model = archive.read("encoder.onnx")
            tokenizer_json = archive.read("tokenizer.json").decode("utf-8")
        if tuple(meta["labels"]) != LABELS:
            raise ValueError(f"{path} was trained for labels {meta['labels']}, not {LABELS}")
        self.meta = meta
        words = meta["word_features"]
        if len(terms) != words + meta["char_features"]:
            raise ValueError(f"{path}: vocabulary and meta.json disagree")
        # Two indexes: a word ("ok") can also be a char n-gram of the other block.
        self._word_index = {term: column for column, term in enumerate(terms[:words])}
        self._char_index = {term: words + n for n, term in enumerate(terms[words:])}
        self._word_ngrams = tuple(meta["word_ngram_range"])
        self._char_ngrams = tuple(meta["char_ngram_range"])
        if len(self._weights) != len(terms) + 1:
            raise ValueError(f"{path}: weights and vocabulary disagree")
        # The last row is the intercept; the tuned per-label bias shifts the decision towards
        # the macro-F1 optimum.
        self._base = self._weights[-1] + np.array(meta["bias"], dtype=np.float64)
        self._cue_weight = float(meta["cue_weight"])
        self._encoder = SentenceEncoder(
            encoder_model, tokenizer_json, max_tokens=int(meta["encoder"]["max_tokens"])
        )
        self._encoder_weight = float(meta["encoder"]["weight"])

    def _add_block(self, logits: np.ndarray, terms: list[str], index: dict[str, int]) -> None:
        """Adds one block's TF-IDF vector (sublinear tf, L2-normalised) times its weights."""
        idf = self._idf
        columns: list[int] = []
        values: list[float] = []
        for term, count in Counter(terms).items():
            column = index.get(term)
            if column is not None:
                columns.append(column)
                values.append((1.0 + math.log(count)) * idf[column])
        if columns:
            vector = np.array(values)
            logits += (vector / np.sqrt(vector @ vector)) @ self._weights[columns]

    def logits(self, text: str) -> np.ndarray:
        return self._logits_and_states(text)[0]

    def _logits_and_states(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        logits = self._base.copy()
        self._add_block(logits, word_terms(text, self._word_ngrams), self._word_index)
        self._add_block(logits, char_terms(text, self._char_ngrams), self._char_index)
        if self._cue_weight:
            logits += self._cue_weight * np.array(cue_counts(text))
        encoder_logits, states = self._encoder.run_all(text)
        logits += self._encoder_weight * encoder_logits
        return logits, states

    def detect(self, text: str) -> Emotion:
        return self.analyse(text)[0]

    def analyse(self, text: str) -> tuple[Emotion, np.ndarray]:
        """The emotion and the encoder's pooled states (the features of the self-harm risk
        head, chat_api/risk_model.py), from one encoder pass."""
        if not text.strip():
            emotion = Emotion(
                label="neutral", scores={label: float(label == "neutral") for label in LABELS}
            )
            return emotion, self._encoder.run_all(text)[1]
        logits, states = self._logits_and_states(text)
        exps = np.exp(logits - logits.max())
        probabilities = (exps / exps.sum()).tolist()
        scores = {label: round(p, 4) for label, p in zip(LABELS, probabilities, strict=True)}
        return Emotion(label=LABELS[int(logits.argmax())], scores=scores), states
