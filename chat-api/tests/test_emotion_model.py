"""The trained emotion model's artifact: it loads, stays small, and reproduces the dev score
documented in docs/emotion-model.md (needs the shared datasets folder next to the repository)."""

from __future__ import annotations

import json
import re
import zipfile

import pytest
from models import emotion_eval as ev

from chat_api.emotion import LABELS, load_detector
from chat_api.emotion.encoder import SentenceEncoder
from chat_api.emotion.linear import ARTIFACT, LinearDetector
from local_stack.processes import REPO_ROOT

DOC = REPO_ROOT / "docs" / "emotion-model.md"
TOLERANCE = 0.005


def documented_macro_f1() -> float:
    match = re.search(r"Dev macro-F1: \*\*(0\.\d{4})\*\*", DOC.read_text(encoding="utf-8"))
    assert match, f"{DOC} states no dev macro-F1"
    return float(match.group(1))


def test_the_service_loads_the_trained_artifact():
    assert isinstance(load_detector(), LinearDetector)
    assert ARTIFACT.stat().st_size < 25 * 2**20
    assert LinearDetector().meta["labels"] == list(LABELS)


def test_an_artifact_built_for_other_features_is_refused(tmp_path):
    old = tmp_path / "old-model.zip"
    with zipfile.ZipFile(old, "w") as archive:
        archive.writestr("meta.json", json.dumps({"labels": list(LABELS), "features_version": 1}))
    with pytest.raises(ValueError, match="run make train-emotion"):
        LinearDetector(old)


def artifact_encoder(max_tokens: int) -> SentenceEncoder:
    with zipfile.ZipFile(ARTIFACT) as archive:
        return SentenceEncoder(
            archive.read("encoder.onnx"), archive.read("tokenizer.json").decode(), max_tokens
        )


def test_the_encoder_reads_only_the_first_wordpieces():
    encoder = artifact_encoder(max_tokens=16)
    opening = "I really can't believe how the whole day went, " * 3  # well over 16 WordPieces
    furious, delighted = encoder.run("I am furious."), encoder.run("I am delighted.")
    assert furious.shape == (len(LABELS),)
    assert abs(furious - delighted).max() > 0.1
    late_furious, late_delighted = (encoder.run(opening + end) for end in ("furious", "delighted"))
    assert (late_furious == late_delighted).all()


def test_dev_score_matches_the_documented_figure():
    if not (ev.DATA_DIR / "dev.tsv").exists():
        pytest.skip(f"{ev.DATA_DIR} is not here: the dev-score check needs the shared datasets")
    scores = ev.evaluate(load_detector(), ev.load_split("dev"))
    assert scores.rows == 5426
    assert scores.macro_f1 == pytest.approx(documented_macro_f1(), abs=TOLERANCE)
    assert scores.macro_f1 >= 0.55


def test_scoring_counts_every_gold_label():
    examples = [
        ev.Example("a", frozenset({"joy", "surprise"})),
        ev.Example("b", frozenset({"anger"})),
    ]
    scores = ev.score(examples, ["joy", "joy"])
    assert scores.f1["joy"] == pytest.approx(2 / 3)  # one hit, one false alarm
    assert scores.f1["surprise"] == 0.0  # its row was predicted joy: a miss
    assert scores.confusion["surprise"]["joy"] == 1
    assert scores.confusion["anger"]["joy"] == 1
    assert scores.support == {**dict.fromkeys(LABELS, 0), "joy": 1, "surprise": 1, "anger": 1}


def documented_cross_validated_macro_f1() -> float:
    text = DOC.read_text(encoding="utf-8")
    match = re.search(r"Cross-validated macro-F1 on train: \*\*(0\.\d{4})\*\*", text)
    assert match, f"{DOC} states no cross-validated macro-F1"
    return float(match.group(1))


def test_every_choice_was_made_on_train_by_cross_validation():
    meta = LinearDetector().meta
    assert "cross-validation on train" in meta["trained_on"]
    assert "dev.tsv scored once" in meta["trained_on"]
    cross_validated = meta["cross_validated"]
    assert set(cross_validated["f1"]) == set(LABELS)
    mean = sum(cross_validated["f1"].values()) / len(LABELS)
    assert cross_validated["macro_f1"] == pytest.approx(mean, abs=1e-3)
    assert cross_validated["macro_f1"] == pytest.approx(
        documented_cross_validated_macro_f1(), abs=1e-4
    )


def test_emotion_eval_prints_the_split_next_to_the_cross_validated_figures():
    cross_validated = LinearDetector().meta["cross_validated"]
    examples = [ev.Example("a", frozenset({"joy"})), ev.Example("b", frozenset({"anger"}))]
    text = ev.markdown(ev.score(examples, ["joy", "anger"]), cross_validated)
    assert "cross-validated on train" in text
    for label in LABELS:
        # The first row of each label is the F1 table's; the confusion table follows.
        row = next(line for line in text.splitlines() if line.startswith(f"| {label} |"))
        assert f"{cross_validated['f1'][label]:.4f}" in row
