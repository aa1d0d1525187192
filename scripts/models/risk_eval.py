"""Recall and false alarms of the self-harm risk detector as served: `make risk-eval`.

Runs the emotion model's encoder pass and chat_api.safety.assess (rules, then the classifier)
on every sentence of a labelled TSV (level, kind, text; by default the held-apart
chat-api/tests/risk_sentences.tsv, which training never reads) and prints, as Markdown:
recall per gold level (a sentence counts when its decided level is at least its gold level),
the decided levels per kind, and each sentence decided below its gold level or raised to
risk or above without being at risk.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT / "chat-api"))

from chat_api.emotion import load_detector  # noqa: E402
from chat_api.risk_model import LEVELS  # noqa: E402
from chat_api.safety import assess, rule_level  # noqa: E402

HELD_APART = REPO_ROOT / "chat-api" / "tests" / "risk_sentences.tsv"
HARD_NEGATIVE_KINDS = ("figure", "fiction", "news", "research", "grief", "volunteer", "negation")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python scripts/models/risk_eval.py")
    parser.add_argument("--sentences", type=Path, default=HELD_APART)
    args = parser.parse_args(argv)
    with args.sentences.open(encoding="utf-8", newline="") as rows:
        rows = list(csv.DictReader(rows, delimiter="\t", quoting=csv.QUOTE_NONE))
    detector = load_detector()
    decided = []
    for row in rows:
        _, states = detector.analyse(row["text"])
        decided.append((row, assess(row["text"], states).level, rule_level(row["text"])))
    rank = LEVELS.index
    print(f"Sentences: {len(rows)} ({args.sentences.name})\n")
    print("| gold level | sentences | recall (decided at least the gold level) | at exactly |")
    print("|---|---|---|---|")
    for gold in reversed(LEVELS[1:]):
        levels = [level for row, level, _ in decided if row["level"] == gold]
        hits = sum(rank(level) >= rank(gold) for level in levels)
        exact = sum(level == gold for level in levels)
        print(f"| {gold} | {len(levels)} | {hits}/{len(levels)} | {exact}/{len(levels)} |")
    hard = [(row, level) for row, level, _ in decided if row["kind"] in HARD_NEGATIVE_KINDS]
    alarms = sum(rank(level) >= rank("risk") for _, level in hard)
    notes = sum(level == "concern" for _, level in hard)
    print(
        f"\nHard negatives: {len(hard)}; false alarms (risk or urgent): {alarms}; "
        f"concern: {notes}\n"
    )
    print("| gold level | kind | sentences | none | concern | risk | urgent | by the rules |")
    print("|---" * 8 + "|")
    groups: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for row, level, rules in decided:
        groups.setdefault((row["level"], row["kind"]), []).append((level, rules))
    for (gold, kind), items in sorted(groups.items(), key=lambda g: (-rank(g[0][0]), g[0][1])):
        counts = " | ".join(str(sum(level == name for level, _ in items)) for name in LEVELS)
        by_rules = sum(rules != "none" for _, rules in items)
        print(f"| {gold} | {kind} | {len(items)} | {counts} | {by_rules} |")
    print("\nDecided below the gold level, or a false alarm:\n")
    for row, level, _ in decided:
        below = rank(level) < rank(row["level"])
        alarm = row["level"] in ("none", "concern") and rank(level) >= rank("risk")
        if below or alarm:
            print(f"- {row['level']}/{row['kind']} decided {level}: {row['text']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
