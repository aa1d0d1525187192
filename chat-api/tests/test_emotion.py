"""The emotion detector's interface and `make emotion-predict`."""

from __future__ import annotations

import json
import subprocess

import pytest

from chat_api.emotion import LABELS, load_detector
from chat_api.emotion.cues import cue_counts
from local_stack.processes import REPO_ROOT, child_env

EXAMPLES = [
    ("I am so angry, this is completely unfair!", "anger"),
    ("Ugh, that is disgusting and gross.", "disgust"),
    ("I'm scared and anxious about the results.", "fear"),
    ("This is wonderful, thank you so much!", "joy"),
    ("The meeting moved to 3 pm on Thursday.", "neutral"),
    ("I feel so lonely and sad tonight.", "sadness"),
    ("Wow, I did not expect that at all!", "surprise"),
]


@pytest.fixture(scope="module")
def detector():
    # Loading the artifact takes about a second: once for the module.
    return load_detector()


@pytest.mark.parametrize(("text", "label"), EXAMPLES)
def test_labels_for_fixed_examples(detector, text, label):
    emotion = detector.detect(text)
    assert emotion.label == label
    assert list(emotion.scores) == list(LABELS)
    assert sum(emotion.scores.values()) == pytest.approx(1, abs=1e-3)
    assert emotion.scores[label] == max(emotion.scores.values())


def test_negation_weakens_joy(detector):
    negated = detector.detect("I am not happy with this").scores["joy"]
    assert negated < detector.detect("I am happy with this").scores["joy"]
    assert negated < 0.6


def test_a_negated_cue_counts_against_its_label():
    def joy(text: str) -> float:
        return cue_counts(text)[LABELS.index("joy")]

    assert joy("I am so happy today") == 1
    assert joy("I am not happy today") == -1
    assert joy("I'm never happy, and never glad") == -2
    assert cue_counts("The meeting moved to Thursday.") == [0.0] * len(LABELS)


def test_long_and_odd_text_still_gives_seven_scores(detector):
    for text in ("a" * 4000, "!!! ??? ...", "😀 " * 50, "\t\n  x  \n"):
        emotion = detector.detect(text)
        assert list(emotion.scores) == list(LABELS)
        assert sum(emotion.scores.values()) == pytest.approx(1, abs=1e-3)


def test_empty_text_is_neutral(detector):
    assert detector.detect("").label == "neutral"


@pytest.mark.slow  # runs make in a child process
def test_make_emotion_predict_reads_lines_and_writes_json_lines():
    lines = [text for text, _ in EXAMPLES]
    result = subprocess.run(
        ["make", "--no-print-directory", "emotion-predict"],
        cwd=REPO_ROOT,
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        env=child_env(),
        timeout=120,
        check=True,
    )
    outputs = [json.loads(line) for line in result.stdout.splitlines()]
    assert [out["emotion"] for out in outputs] == [label for _, label in EXAMPLES]
    assert all(set(out["scores"]) == set(LABELS) for out in outputs)
