"""Emotion detection behind one small interface: text in, a label and seven scores out."""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Protocol

from chatbot_common.wire import EMOTIONS

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger(__name__)

# The seven labels, in the order of the model's scores (the wire's order).
LABELS = EMOTIONS


@dataclass(frozen=True)
class Emotion:
    label: str
    scores: dict[str, float]  # one probability per label in LABELS, summing to 1

    def as_dict(self) -> dict:
        return {"label": self.label, "scores": self.scores}


class EmotionDetector(Protocol):
    def detect(self, text: str) -> Emotion: ...

    def analyse(self, text: str) -> tuple[Emotion, np.ndarray]:
        """The emotion and the sentence encoder's pooled states, from one encoder pass."""
        ...


def load_detector() -> EmotionDetector:
    """The trained model (docs/emotion-model.md), loaded from the artifact in this package."""
    from .linear import LinearDetector

    return LinearDetector()


@cache
def shared_detector() -> EmotionDetector:
    """The detector of this process, loaded once.

    Gunicorn's master calls it before forking its workers (gunicorn.conf.py), so the workers
    inherit the loaded model and share its memory (copy-on-write) instead of each loading its
    own copy; the log line says which process read the artifact.
    """
    from .cpu import int8_dot_product

    started = time.perf_counter()
    detector = load_detector()
    dot_product = int8_dot_product()
    log.info(
        "emotion model loaded",
        extra={
            "pid": os.getpid(),
            "load_ms": round((time.perf_counter() - started) * 1000),
            "int8_dot_product": dot_product,
        },
    )
    if not dot_product:
        log.warning(
            "emotion encoder on a CPU without int8 dot-product instructions: "
            "expect it to be slower per message (docs/emotion-model.md)",
            extra={"pid": os.getpid()},
        )
    return detector
