"""Trains the self-harm risk classifier (`make train-risk`): chat-api/chat_api/risk-model.zip.

Reads the project's own corpus, scripts/models/risk_corpus.tsv (level, kind, text; see
scripts/models/risk_corpus.md). The held-apart sentences the tests assert on
(chat-api/tests/risk_sentences.tsv) are read only to refuse a corpus that shares a sentence
with them.

Features, exactly as the chat API computes them: the emotion model's sentence-encoder pooled
states (chat_api.emotion.linear.LinearDetector.analyse, from the committed emotion artifact),
standardised and scaled by STATE_SCALE, next to TF-IDF word 1-2-grams with negated words marked
(the emotion model's word_terms). A multinomial logistic regression maps them to the four levels.

Every choice is made by stratified 5-fold cross-validation on the corpus: C and STATE_SCALE
from fixed grids, then the three decision thresholds, all by the lowest total cost of the
out-of-fold decisions, where the decision is the higher of the rules' level (chat_api.safety)
and the classifier's, as served. The cost counts a missed urgent message far above a false
alarm (COST below). Deterministic: fixed folds and seed, lbfgs, a zip with fixed timestamps.

Needs the training requirements (scripts/models/requirements.txt).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import itertools
import json
import re
import sys
import types
from pathlib import Path

import numpy as np
from scipy.sparse import csr_matrix, hstack
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.preprocessing import StandardScaler

REPO_ROOT = Path(__file__).resolve().parents[2]
# The chat_api package without its __init__ (which builds the Flask app and needs the chat API's
# dependencies): safety, risk_model and emotion need numpy, onnxruntime and tokenizers only.
_package = types.ModuleType("chat_api")
_package.__path__ = [str(REPO_ROOT / "chat-api" / "chat_api")]
sys.modules.setdefault("chat_api", _package)

from artifact_zip import zip_bytes  # noqa: E402

from chat_api import safety  # noqa: E402
from chat_api.emotion.linear import LinearDetector, word_terms  # noqa: E402
from chat_api.risk_model import ARTIFACT, FORMAT_VERSION, LEVELS, RiskHead  # noqa: E402

CORPUS = REPO_ROOT / "scripts" / "models" / "risk_corpus.tsv"
HELD_APART = REPO_ROOT / "chat-api" / "tests" / "risk_sentences.tsv"
EVERYDAY_HELD_APART = REPO_ROOT / "chat-api" / "tests" / "everyday_messages.txt"
# Ordinary messages the corpus cannot cover by hand: GoEmotions train comments, when the
# maintainer's ../shared/datasets is there (the artifact records how many it used).
ORDINARY = REPO_ROOT.parent / "shared" / "datasets" / "goemotions-ekman" / "train.tsv"
ORDINARY_SENTENCES = 2000
# GoEmotions labels whose comments may be distress: never taught as `none`.
ORDINARY_DROPPED_LABELS = {"2", "5"}  # fear, sadness
# A coarse filter: a comment naming death, dying, killing, self-harm, drugs, weapons, heights
# or despair is dropped, so no risky Reddit text is taught as `none`.
_RISKY_WORDS = re.compile(
    r"\b(?:di(?:e|es|ed|ing)|dead\w*|death\w*|kill\w*|suicid\w*|self[\s-]?harm\w*|hurt\w*|"
    r"harm\w*|cut(?:s|ting)?|pills?|tablets?|meds?|medication\w*|overdos\w*|od|drugs?|"
    r"murder\w*|shoot\w*|shot|guns?|hang\w*|rope|noose|jump\w*|bridge|knife|blades?|razor\w*|"
    r"bleed\w*|blood\w*|poison\w*|end(?:ing|s)?|live|living|alive|life|lives|wake|sleep\w*|"
    r"gone|goodbye|funeral|grave|depress\w*|anxi\w*|lonel\w*|alone|hopeless\w*|worthless|"
    r"pointless|cry\w*|tears?|sad\w*|tired|give\s+up|off|myself|himself|herself|themselves|"
    r"burden|suffer\w*|pain\w*|hospital|therap\w*|cancer|sick)\b",
    re.IGNORECASE,
)
SEED = 20241201
FOLDS = 5
C_GRID = (1.0, 3.0, 10.0)
STATE_SCALE_GRID = (0.02, 0.05, 0.1)
THRESHOLD_GRID = tuple(np.round(np.arange(0.1, 0.91, 0.05), 2))
# cost[gold][decided], in LEVELS order: missing urgent or risk costs most; a false alarm
# (crisis text on a message without risk) costs more than a concern note on one.
COST = np.array(
    [
        [0, 1, 4, 4],
        [2, 0, 1, 1],
        [8, 5, 0, 0.5],
        [12, 10, 3, 0],
    ]
)


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as rows:
        return list(csv.DictReader(rows, delimiter="\t", quoting=csv.QUOTE_NONE))


def normalised(text: str) -> str:
    return " ".join(text.lower().split())


def ordinary_sentences(path: Path, count: int) -> list[str]:
    """Up to `count` GoEmotions comments that pass the filters, chosen by the SHA-256 of their
    text (so the choice depends on the file's content, not its order); none without the file."""
    if count <= 0 or not path.exists():
        return []
    kept = set()
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            text, labels = line.rstrip("\n").split("\t")[:2]
            if (
                not set(labels.split(",")) & ORDINARY_DROPPED_LABELS
                and not _RISKY_WORDS.search(text)
                and text.strip()
            ):
                kept.add(text.strip())
    # The dev comments measure the false alarms (scripts/models/risk_eval.py): never train on them.
    dev = path.with_name("dev.tsv")
    if dev.exists():
        kept -= {line.split("\t")[0].strip() for line in dev.read_text("utf-8").splitlines()}
    return sorted(kept, key=lambda text: hashlib.sha256(text.encode()).hexdigest())[:count]


def decide(probabilities: np.ndarray, thresholds: tuple[float, float, float]) -> np.ndarray:
    """Per row: the highest level whose cumulative probability reaches its threshold."""
    at_least = np.cumsum(probabilities[:, ::-1], axis=1)[:, ::-1]
    decided = np.zeros(len(probabilities), dtype=int)
    for position in (1, 2, 3):
        decided = np.where(at_least[:, position] >= thresholds[position - 1], position, decided)
    return decided


def best_thresholds(
    probabilities: np.ndarray, rules: np.ndarray, gold: np.ndarray
) -> tuple[float, tuple[float, float, float]]:
    best: tuple[float, tuple[float, float, float]] | None = None
    for combo in itertools.product(THRESHOLD_GRID, repeat=3):
        decided = np.maximum(decide(probabilities, combo), rules)
        cost = float(COST[gold, decided].sum())
        if best is None or cost < best[0] - 1e-9:
            best = (cost, tuple(float(t) for t in combo))
    assert best is not None
    return best


def features(states, words, scaler, state_scale):
    return hstack([csr_matrix(scaler.transform(states) * state_scale), words]).tocsr()


def fit(states, texts, targets, c, state_scale):
    vectorizer = TfidfVectorizer(analyzer=word_terms, min_df=2, sublinear_tf=True)
    words = vectorizer.fit_transform(texts)
    scaler = StandardScaler().fit(states)
    model = LogisticRegression(C=c, max_iter=5000, random_state=SEED)
    model.fit(features(states, words, scaler, state_scale), targets)
    return vectorizer, scaler, model


def predict(fitted, states, texts, state_scale):
    vectorizer, scaler, model = fitted
    return model.predict_proba(features(states, vectorizer.transform(texts), scaler, state_scale))


def out_of_fold(states, texts, targets, c, state_scale) -> np.ndarray:
    folds = StratifiedKFold(n_splits=FOLDS, shuffle=True, random_state=SEED)
    probabilities = np.zeros((len(texts), len(LEVELS)))
    for train, held in folds.split(texts, targets):
        fitted = fit(states[train], [texts[i] for i in train], targets[train], c, state_scale)
        probabilities[held] = predict(fitted, states[held], [texts[i] for i in held], state_scale)
    return probabilities


def artifact_bytes(fitted, state_scale, thresholds, meta_extra: dict) -> bytes:
    vectorizer, scaler, model = fitted
    states = len(scaler.mean_)
    coef = model.coef_.T  # features x levels
    state_weights = coef[:states] * state_scale / scaler.scale_[:, None]
    intercept = model.intercept_ - (scaler.mean_ / scaler.scale_ * state_scale) @ coef[:states]
    terms = [None] * len(vectorizer.vocabulary_)
    for term, column in vectorizer.vocabulary_.items():
        terms[column] = term
    if any("\n" in term for term in terms):
        raise ValueError("a term contains a newline")
    weights = np.vstack([state_weights, coef[states:], intercept[None, :]]).astype("<f4")
    meta = {
        "format_version": FORMAT_VERSION,
        "levels": list(LEVELS),
        "state_features": states,
        "word_features": len(terms),
        "thresholds": dict(zip(LEVELS[1:], thresholds, strict=True)),
        **meta_extra,
    }
    members = {
        "meta.json": json.dumps(meta, indent=1).encode(),
        "vocabulary.txt": "\n".join(terms).encode("utf-8"),
        "idf.f32": vectorizer.idf_.astype("<f4").tobytes(),
        "weights.f32": weights.tobytes(),
    }
    return zip_bytes(members)


def per_kind_table(rows, decided) -> str:
    """Per level and kind: how many, and how many got each decided level."""
    lines = ["| gold level | kind | sentences | none | concern | risk | urgent |", "|---" * 7 + "|"]
    groups: dict[tuple[str, str], list[int]] = {}
    for row, level in zip(rows, decided, strict=True):
        groups.setdefault((row["level"], row["kind"]), []).append(int(level))
    for (level, kind), values in sorted(
        groups.items(), key=lambda g: (-LEVELS.index(g[0][0]), g[0][1])
    ):
        counts = [values.count(i) for i in range(len(LEVELS))]
        lines.append(f"| {level} | {kind} | {len(values)} | " + " | ".join(map(str, counts)) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python scripts/models/risk_train.py")
    parser.add_argument("--out", type=Path, default=ARTIFACT)
    parser.add_argument("--ordinary", type=Path, default=ORDINARY)
    parser.add_argument("--ordinary-sentences", type=int, default=ORDINARY_SENTENCES)
    args = parser.parse_args(argv)
    rows = read_rows(CORPUS)
    held_apart = {normalised(r["text"]) for r in read_rows(HELD_APART)} | {
        normalised(line) for line in EVERYDAY_HELD_APART.read_text("utf-8").splitlines() if line
    }
    shared = {normalised(r["text"]) for r in rows} & held_apart
    if shared:
        print(f"the corpus shares sentences with the held-apart set: {sorted(shared)}")
        return 1
    ordinary = [
        text
        for text in ordinary_sentences(args.ordinary, args.ordinary_sentences)
        if normalised(text) not in held_apart
    ]
    found = "" if args.ordinary.exists() else " (not found)"
    print(f"ordinary messages from {args.ordinary}{found}: {len(ordinary)}")
    rows += [{"level": "none", "kind": "ordinary", "text": text} for text in ordinary]
    texts = [row["text"] for row in rows]
    targets = np.array([LEVELS.index(row["level"]) for row in rows])
    detector = LinearDetector()
    states = np.stack([detector.analyse(text)[1] for text in texts]).astype(np.float64)
    rules = np.array([LEVELS.index(safety.rule_level(text)) for text in texts])
    candidates = []
    for c, state_scale in itertools.product(C_GRID, STATE_SCALE_GRID):
        probabilities = out_of_fold(states, texts, targets, c, state_scale)
        cost, thresholds = best_thresholds(probabilities, rules, targets)
        print(f"C {c}, state scale {state_scale}: cross-validated cost {cost:.1f} {thresholds}")
        candidates.append((cost, c, state_scale, thresholds, probabilities))
    cost, c, state_scale, thresholds, probabilities = min(candidates, key=lambda x: x[:3])
    print(f"chosen: C {c}, state scale {state_scale}, thresholds {thresholds}, cost {cost:.1f}")
    decided = np.maximum(decide(probabilities, thresholds), rules)
    print("\nCross-validated decisions on the corpus (rules and classifier, as served):\n")
    print(per_kind_table(rows, decided))
    fitted = fit(states, texts, targets, c, state_scale)
    meta_extra = {
        "trained_on": "scripts/models/risk_corpus.tsv",
        "sentences": len(rows) - len(ordinary),
        "ordinary_sentences": len(ordinary),
        "logistic_regression": {"C": c, "solver": "lbfgs"},
        "state_scale": state_scale,
        "encoder": "the emotion model's sentence encoder (emotion-model.zip), pooled states",
        "chosen_by": f"stratified {FOLDS}-fold cross-validation on the corpus, lowest cost",
        "seed": SEED,
    }
    args.out.write_bytes(artifact_bytes(fitted, state_scale, thresholds, meta_extra))
    served = RiskHead(args.out)
    expected = fitted[2].predict_proba(
        features(states, fitted[0].transform(texts), fitted[1], state_scale)
    )
    got = np.stack(
        [served.probabilities(text, state) for text, state in zip(texts, states, strict=True)]
    )
    gap = float(np.abs(expected - got).max())
    print(f"\nserved vs training-side probabilities on the corpus: largest gap {gap:.2e}")
    if gap > 1e-3:
        print("the served head does not reproduce the trained one", file=sys.stderr)
        return 1
    print(f"wrote {args.out} ({args.out.stat().st_size / 1024:.0f} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
