"""Tabular grader: answers to ``gen:tabular`` table questions, numbers within a tolerance or text by equality.

Ground truth: ``{"kind": "table_qa", "answer": 42 | 12.5 | "text", "tolerance": 0.01}`` (tolerance is an
absolute difference, 0 when absent).
"""

from __future__ import annotations

import math
import re

from k2core.verify.base import GroundTruthError, Score, no_answer, normalise_text
from k2core.verify.spans import answer_span, clean, last_line, parse_truth

DOMAIN = "tabular"
_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?|-?\.\d+")
_ARTICLE = re.compile(r"^(?:the|a|an)\s+")
_SLACK_WORDS = 4


def last_number(text: str) -> float | None:
    """The last number written in ``text`` (thousands commas allowed), or None."""
    numbers = [n.replace(",", "") for n in _NUMBER.findall(text)]
    numbers = [n for n in numbers if n.strip("-")]
    return float(numbers[-1]) if numbers else None


def _words(text: str) -> str:
    return _ARTICLE.sub("", normalise_text(text))


def _grade_number(span: str, answer: float, tolerance: float) -> Score:
    got = last_number(span)
    if got is None:
        return no_answer("no number in the answer")
    if abs(got - answer) <= tolerance + 1e-9:
        return Score(1.0, True, span, f"{got:g} is within {tolerance:g} of {answer:g}")
    return Score(0.0, False, span, f"{got:g} differs from the expected value")


def _grade_text(span: str, answer: str) -> Score:
    got, want = _words(span), _words(answer)
    short = len(got.split()) <= len(want.split()) + _SLACK_WORDS
    if got == want or (short and re.search(rf"\b{re.escape(want)}\b", got)):
        return Score(1.0, True, span, "text matches")
    return Score(0.0, False, span, "text differs")


class TabularGrader:
    """Numeric answers match within the ground truth's tolerance; text answers after normalisation."""

    domain = DOMAIN

    def extract(self, response: str) -> str | None:
        span = answer_span(response) or last_line(response)
        return None if span is None else clean(span)

    def grade(self, response: str, ground_truth: str) -> Score:
        truth = parse_truth(ground_truth, ("table_qa",))
        answer, tolerance = truth.get("answer"), truth.get("tolerance", 0)
        numeric = isinstance(answer, (int, float)) and not isinstance(answer, bool)
        if not (numeric or isinstance(answer, str)) or isinstance(tolerance, bool):
            raise GroundTruthError(f"table_qa needs a number or text 'answer': {ground_truth[:80]!r}")
        if not isinstance(tolerance, (int, float)) or tolerance < 0:
            raise GroundTruthError(f"table_qa 'tolerance' must be a non-negative number: {ground_truth[:80]!r}")
        span = self.extract(response)
        if not span:
            return no_answer()
        if isinstance(answer, str):
            return _grade_text(span, answer)
        return _grade_number(span, float(answer or 0), float(tolerance))

    def same_answer(self, a: str, b: str) -> bool:
        left, right = last_number(a), last_number(b)
        if left is not None and right is not None and _NUMBER.fullmatch(a.strip()) and _NUMBER.fullmatch(b.strip()):
            return math.isclose(left, right, rel_tol=1e-9, abs_tol=1e-6)
        return _words(a) == _words(b)


GRADER = TabularGrader()
