"""Emotion detection behind one small interface: text in, a label and seven scores out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import numpy as np

LABELS = ("anger", "disgust", "fear", "joy", "neutral", "sadness", "surprise")


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
