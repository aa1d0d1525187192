"""Scores the served detector on a GoEmotions (Ekman) split: `make emotion-eval`.

The metric is the one the model is chosen by: the prediction is the top label, the gold side is
multi-label (a row counts as correct for every gold label it carries), F1 per label over the
binarised rows, and macro-F1 the mean over the seven labels. The confusion matrix counts, for
each gold label of each row, the predicted label.

Usage: python scripts/models/emotion_eval.py [--split dev] [--data DIR] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
# The served emotion package on its own, without the Flask app around it, so that the training
# environment (which has no Flask) scores with this same module.
sys.path.append(str(REPO_ROOT / "chat-api" / "chat_api"))

from emotion import LABELS, EmotionDetector, load_detector  # noqa: E402

DATA_DIR = REPO_ROOT.parent / "shared" / "datasets" / "goemotions-ekman"


@dataclass(frozen=True)
class Example:
    text: str
    gold: frozenset[str]


def load_split(split: str, data_dir: Path = DATA_DIR) -> list[Example]:
    """Rows of `<split>.tsv`: text, comma-separated label ids, comment id."""
    names = (data_dir / "labels.txt").read_text(encoding="utf-8").split()
    if tuple(names) != LABELS:
        raise ValueError(f"{data_dir}/labels.txt lists {names}, expected {list(LABELS)}")
    examples = []
    with (data_dir / f"{split}.tsv").open(encoding="utf-8") as rows:
        for row in rows:
            text, ids, _ = row.rstrip("\n").split("\t")
            examples.append(Example(text, frozenset(names[int(i)] for i in ids.split(","))))
    return examples


@dataclass(frozen=True)
class Scores:
    rows: int
    macro_f1: float
    f1: dict[str, float]
    support: dict[str, int]
    confusion: dict[str, dict[str, int]]  # gold label -> predicted label -> count

    def as_dict(self) -> dict:
        return {
            "rows": self.rows,
            "macro_f1": self.macro_f1,
            "f1": self.f1,
            "support": self.support,
            "confusion": self.confusion,
        }


def score(examples: Sequence[Example], predictions: Sequence[str]) -> Scores:
    tp = dict.fromkeys(LABELS, 0)
    fp = dict.fromkeys(LABELS, 0)
    fn = dict.fromkeys(LABELS, 0)
    confusion = {gold: dict.fromkeys(LABELS, 0) for gold in LABELS}
    for example, predicted in zip(examples, predictions, strict=True):
        if predicted in example.gold:
            tp[predicted] += 1
        else:
            fp[predicted] += 1
        for gold in example.gold:
            confusion[gold][predicted] += 1
            if gold != predicted:
                fn[gold] += 1
    f1 = {}
    for label in LABELS:
        denominator = 2 * tp[label] + fp[label] + fn[label]
        f1[label] = 2 * tp[label] / denominator if denominator else 0.0
    support = {label: tp[label] + fn[label] for label in LABELS}
    return Scores(len(examples), sum(f1.values()) / len(LABELS), f1, support, confusion)


def evaluate(detector: EmotionDetector, examples: Sequence[Example]) -> Scores:
    return score(examples, [detector.detect(example.text).label for example in examples])


def markdown(scores: Scores, cross_validated: dict | None = None) -> str:
    """The split's scores; with `cross_validated` (the artifact's out-of-fold figures on train,
    from which every choice was made), those side by side."""
    if not cross_validated:
        lines = [
            f"Macro-F1: **{scores.macro_f1:.4f}** ({scores.rows} rows)",
            "",
            "| label | F1 | gold rows |",
            "|---|---|---|",
        ]
        lines += [
            f"| {label} | {scores.f1[label]:.4f} | {scores.support[label]} |" for label in LABELS
        ]
    else:
        folds, rows = cross_validated["folds"], cross_validated["rows"]
        lines = [
            f"Macro-F1: **{scores.macro_f1:.4f}** on this split ({scores.rows} rows, scored "
            f"once); {cross_validated['macro_f1']:.4f} cross-validated on train ({folds} folds, "
            f"{rows} rows, where every choice was made)",
            "",
            "| label | F1 (this split) | F1 (train, cross-validated) | gold rows (this split) |",
            "|---|---|---|---|",
        ]
        lines += [
            f"| {label} | {scores.f1[label]:.4f} | {cross_validated['f1'][label]:.4f} "
            f"| {scores.support[label]} |"
            for label in LABELS
        ]
    lines += ["", "Confusion (rows: gold label, columns: predicted):", ""]
    lines.append("| gold \\ predicted | " + " | ".join(LABELS) + " |")
    lines.append("|---" * (len(LABELS) + 1) + "|")
    for gold in LABELS:
        counts = " | ".join(str(scores.confusion[gold][p]) for p in LABELS)
        lines.append(f"| {gold} | {counts} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python scripts/models/emotion_eval.py")
    parser.add_argument("--split", default="dev", choices=("train", "dev"))
    parser.add_argument("--data", type=Path, default=DATA_DIR, help="the dataset folder")
    parser.add_argument("--json", action="store_true", help="print JSON instead of Markdown")
    args = parser.parse_args(argv)
    if not (args.data / f"{args.split}.tsv").exists():
        print(
            f"{args.data}/{args.split}.tsv not found (the shared datasets folder)", file=sys.stderr
        )
        return 2
    detector = load_detector()
    scores = evaluate(detector, load_split(args.split, args.data))
    cross_validated = getattr(detector, "meta", {}).get("cross_validated")
    if args.json:
        print(json.dumps({**scores.as_dict(), "cross_validated": cross_validated}, indent=2))
    else:
        print(markdown(scores, cross_validated))
    return 0


if __name__ == "__main__":
    sys.exit(main())
