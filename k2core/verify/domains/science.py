"""Science: a multiple-choice letter A–D, extracted robustly from the final answer."""

from __future__ import annotations

import re

from k2core.verify.base import GroundTruthError, Score, final_segment, no_answer, normalise_text

_LETTERS = "ABCD"
_END = r"(?![A-Za-z0-9_'’-])"
# Explicit answers ("Answer: C", "the correct option is (C)", "\boxed{C}") outrank bare mentions; within a
# tier the last occurrence wins.
_EXPLICIT = (
    re.compile(r"\\boxed\s*\{\s*(?:\\text(?:bf)?\s*\{)?\s*\(?([A-D])\)?\s*\}?\s*\}"),
    re.compile(
        r"(?i:answer|option|choice)\**\s*(?i:is\b|[:：=])\s*(?i:option\s+|choice\s+)?"
        r"[\s*$\\(\[{]*(?:text(?:bf)?\{|boxed\{)?\s*\(?([A-D])" + _END
    ),
)
_MENTIONS = (
    re.compile(r"\(([A-D])\)"),
    re.compile(r"\*\*\s*\(?([A-D])[).:]?\s*\*\*"),
    re.compile(r"(?m)^[ \t]*\(?([A-D])[).:]?[ \t]*$"),
    re.compile(r"(?i:option|choice)\s+\(?([A-D])" + _END),
)


def _last_letter(text: str, patterns: tuple[re.Pattern[str], ...]) -> str | None:
    hits = [(m.start(1), m.group(1)) for p in patterns for m in p.finditer(text)]
    return max(hits)[1] if hits else None


def _letter(answer: str) -> str | None:
    """The letter an answer text stands for (``C``, ``(c)``, ``C.``), or None."""
    text = answer.strip().strip("().*").strip().upper()
    return text if len(text) == 1 and text in _LETTERS else None


class ScienceGrader:
    """Grades multiple-choice answers (GPQA style) against one letter A–D."""

    domain = "science"

    def extract(self, response: str) -> str | None:
        segment = final_segment(response)
        return _last_letter(segment, _EXPLICIT) or _last_letter(segment, _MENTIONS)

    def grade(self, response: str, ground_truth: str) -> Score:
        gold = ground_truth.strip().upper()
        if len(gold) != 1 or gold not in _LETTERS:
            raise GroundTruthError(f"science ground truth {ground_truth!r} is not one letter A-D")
        letter = self.extract(response)
        if letter is None:
            return no_answer("no choice letter A-D in the final answer")
        if letter == gold:
            return Score(1.0, True, letter, "matches the correct choice")
        return Score(0.0, False, letter, f"chose {letter}, the correct choice is {gold}")

    def same_answer(self, a: str, b: str) -> bool:
        la, lb = _letter(a), _letter(b)
        if la is None or lb is None:
            return normalise_text(a) == normalise_text(b)
        return la == lb


GRADER = ScienceGrader()
