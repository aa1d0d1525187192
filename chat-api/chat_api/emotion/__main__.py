"""`make emotion-predict`: text lines on stdin, one JSON line per input on stdout."""

from __future__ import annotations

import json
import sys

from . import load_detector


def main() -> int:
    detector = load_detector()
    out = sys.stdout
    for line in sys.stdin:
        text = line.rstrip("\n")
        emotion = detector.detect(text)
        out.write(json.dumps({"emotion": emotion.label, "scores": emotion.scores}) + "\n")
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
