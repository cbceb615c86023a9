"""The grading contract shared by every domain: a Score and the Grader protocol."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Protocol

_THINK_END = "</think>"


@dataclass(frozen=True)
class Score:
    """Outcome of grading one response: score in [0, 1], correctness, the extracted answer and why."""

    score: float
    correct: bool
    extracted: str | None
    reason: str

    def to_dict(self) -> dict:
        return asdict(self)


def final_segment(response: str) -> str:
    """Return only the text after the last ``</think>`` (the whole text when the tag is absent)."""
    if _THINK_END in response:
        return response.rsplit(_THINK_END, 1)[1]
    return response


def no_answer(reason: str = "no final answer found") -> Score:
    """The zero score for a response that carries no gradable answer."""
    return Score(score=0.0, correct=False, extracted=None, reason=reason)


def normalise_text(text: str) -> str:
    """Lower-case, collapse whitespace and strip surrounding punctuation, for text-equality domains."""
    return re.sub(r"\s+", " ", text.strip().strip(".").strip()).lower()


class GroundTruthError(ValueError):
    """A ground truth that cannot be graded: a data bug, reported with the item it came from."""


class Grader(Protocol):
    """One domain's verifier. ``grade`` never raises on bad responses; it raises GroundTruthError on bad truth."""

    domain: str

    def extract(self, response: str) -> str | None:
        """The final answer in a response (after ``</think>``), or None."""

    def grade(self, response: str, ground_truth: str) -> Score:
        """Score a response against the ground truth."""

    def same_answer(self, a: str, b: str) -> bool:
        """Whether two extracted answers are equivalent in this domain (used to group candidates)."""
