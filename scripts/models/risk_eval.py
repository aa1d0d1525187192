"""Recall and false alarms of the self-harm risk detector as served: `make risk-eval`.

Runs the emotion model's encoder pass and chat_api.safety.assess (rules, then the classifier)
on every sentence of a labelled TSV (level, kind, text; by default the held-apart
chat-api/tests/risk_sentences.tsv, which training never reads) and prints, as Markdown:
recall per gold level (a sentence counts when its decided level is at least its gold level),
the decided levels per kind, and each sentence decided below its gold level or raised to
risk or above without being at risk.

Then the ordinary messages: the held-apart everyday chat messages
(chat-api/tests/everyday_messages.txt) and, when ../shared/datasets is there, every GoEmotions
dev comment (ordinary Reddit comments, never used in training), with the share decided
concern, risk and urgent, and how many the three-message rule raises to risk when the
comments are read in order as one conversation. `--artifact` measures another classifier
artifact (for instance the previous one, from `git show`).
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections import Counter
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT / "chat-api"))

from chat_api.emotion import load_detector  # noqa: E402
from chat_api.risk_model import ARTIFACT, LEVELS, RiskHead  # noqa: E402
from chat_api.safety import assess, rule_level  # noqa: E402

HELD_APART = REPO_ROOT / "chat-api" / "tests" / "risk_sentences.tsv"
EVERYDAY = REPO_ROOT / "chat-api" / "tests" / "everyday_messages.txt"
ORDINARY = REPO_ROOT.parent / "shared" / "datasets" / "goemotions-ekman" / "dev.tsv"
HARD_NEGATIVE_KINDS = ("figure", "fiction", "news", "research", "grief", "volunteer", "negation")


def labelled(rows, detector, head) -> None:
    decided = []
    for row in rows:
        _, states = detector.analyse(row["text"])
        decided.append((row, assess(row["text"], states, head=head).level, rule_level(row["text"])))
    rank = LEVELS.index
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


def ordinary(name: str, texts: list[str], detector, head) -> list[str]:
    """Prints the share of `texts` decided at each level; returns the flagged ones."""
    alone: list[str] = []
    in_order: list[str] = []
    for text in texts:
        _, states = detector.analyse(text)
        alone.append(assess(text, states, head=head).level)
        # The same comments read in order as one conversation, for the three-message rule.
        in_order.append(assess(text, states, tuple(in_order[-2:]), head=head).level)
    counts = Counter(alone)
    shares = " | ".join(
        f"{counts[level]} ({100 * counts[level] / len(texts):.2f} %)" for level in LEVELS[1:]
    )
    flagged = counts["risk"] + counts["urgent"]
    raised = sum(a != b for a, b in zip(alone, in_order, strict=True))
    print(f"| {name} | {len(texts)} | {shares} | {100 * flagged / len(texts):.2f} % | {raised} |")
    return [text for text, level in zip(texts, alone, strict=True) if level in ("risk", "urgent")]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python scripts/models/risk_eval.py")
    parser.add_argument("--sentences", type=Path, default=HELD_APART)
    parser.add_argument("--ordinary", type=Path, default=ORDINARY)
    parser.add_argument("--artifact", type=Path, default=ARTIFACT)
    args = parser.parse_args(argv)
    with args.sentences.open(encoding="utf-8", newline="") as rows:
        rows = list(csv.DictReader(rows, delimiter="\t", quoting=csv.QUOTE_NONE))
    detector = load_detector()
    head = RiskHead(args.artifact)
    print(f"Classifier: {args.artifact.name}, thresholds {head.meta['thresholds']}\n")
    print(f"Sentences: {len(rows)} ({args.sentences.name})\n")
    labelled(rows, detector, head)
    print("\nOrdinary messages (none of them at risk):\n")
    print(
        "| messages | count | concern | risk | urgent | risk or urgent "
        "| raised to risk by the three-message rule, read in order |"
    )
    print("|---" * 7 + "|")
    everyday = [line for line in EVERYDAY.read_text("utf-8").splitlines() if line.strip()]
    flagged = ordinary(f"everyday chat ({EVERYDAY.name})", everyday, detector, head)
    if args.ordinary.exists():
        with args.ordinary.open(encoding="utf-8") as lines:
            comments = [line.split("\t")[0] for line in lines if line.strip()]
        flagged += ordinary(f"GoEmotions dev ({args.ordinary.name})", comments, detector, head)
    else:
        print(f"\nGoEmotions dev: skipped: ../shared/datasets not found ({args.ordinary})")
    print("\nOrdinary messages flagged risk or urgent:\n")
    for text in flagged:
        print(f"- {text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
