"""Math: the last ``\\boxed{}`` or final-answer line, compared with math-verify (LaTeX and numeric equivalence)."""

from __future__ import annotations

import re
import signal
import threading
from functools import lru_cache
from typing import Any

from math_verify import parse, verify

from k2core.verify.base import GroundTruthError, Score, final_segment, no_answer, normalise_text

_TIMEOUT_S = 5
_MAX_ANSWER_CHARS = 1000
_BOXED = re.compile(r"\\(?:boxed|fbox)\s*\{")
_HASHES = re.compile(r"####\s*([^\n]+)")
_ANSWER_LINE = re.compile(r"(?i)\b(?:final\s+answer|answer)\b\**\s*(?:is\b\s*:?|[:：=])\s*([^\n]+)")
_MATHY = re.compile(r"[\d\\$^=]")
_TRAILING_PERCENT = re.compile(r"\s*\\?%$")
_NUMBER_THEN_WORDS = re.compile(r"^(-?\d[\d,]*(?:\.\d+)?)\s+[A-Za-z]{2,}[A-Za-z\s]*$")
# Inputs sympy may never finish on: power towers, huge exponents, huge factorials.
_PATHOLOGICAL = (
    re.compile(r"\^\s*\{[^{}]*\^"),
    re.compile(r"\^\s*[\w.]+\s*\^"),
    re.compile(r"\^\s*\{?\s*\(?\s*\d{7,}"),
    re.compile(r"\d{6,}\s*!"),
)


def _last_boxed(text: str) -> str | None:
    """Content of the last ``\\boxed{...}`` with balanced braces, or None (one linear pass)."""
    closing: dict[int, int] = {}
    opened: list[int] = []
    for match in re.finditer(r"[{}]", text):
        if match.group() == "{":
            opened.append(match.start())
        elif opened:
            closing[opened.pop()] = match.start()
    for match in reversed(list(_BOXED.finditer(text))):
        if match.end() - 1 in closing:
            return text[match.end() : closing[match.end() - 1]]
    return None


def _clean(answer: str) -> str:
    """Strip markdown emphasis, ``$`` wrappers, trailing punctuation and a trailing percent sign (``25\\%`` answers
    "what percentage…" as ``25`` does; math-verify alone tells them apart) from an answer snippet."""
    answer = answer.strip().strip("*").strip().rstrip(".。").strip().strip("$").strip()
    answer = _TRAILING_PERCENT.sub("", answer)
    match = _NUMBER_THEN_WORDS.match(answer)
    return match.group(1) if match else answer


def _bare_answer(segment: str) -> str | None:
    """A final segment that is nothing but a short answer (e.g. ``27`` or ``$\\frac{1}{2}$``)."""
    text = segment.strip()
    if "\n" not in text and len(text) <= 60 and len(text.split()) <= 6 and _MATHY.search(text):
        return text
    return None


def _timeout() -> int | None:
    """math-verify's SIGALRM timeout where it works and disturbs no one: the main thread with no alarm pending
    (e.g. verl's own per-sample timer). Elsewhere ``_PATHOLOGICAL`` keeps sympy away from endless inputs."""
    if threading.current_thread() is not threading.main_thread() or signal.getitimer(signal.ITIMER_REAL)[0] > 0:
        return None
    return _TIMEOUT_S


@lru_cache(maxsize=8192)
def _parse(text: str) -> tuple[Any, ...]:
    """math-verify parse of an answer snippet: as LaTeX inside ``\\boxed{}`` first, then as plain text."""
    for candidate in (f"\\boxed{{{text}}}", text):
        parsed = parse(candidate, parsing_timeout=_timeout())
        if parsed:
            return tuple(parsed)
    return ()


def _too_complex(answer: str) -> str | None:
    if len(answer) > _MAX_ANSWER_CHARS:
        return f"answer longer than {_MAX_ANSWER_CHARS} characters"
    if any(p.search(answer) for p in _PATHOLOGICAL):
        return "answer too costly to evaluate (power tower, huge exponent or factorial)"
    return None


def _parse_gold(ground_truth: str) -> tuple[Any, ...]:
    text = ground_truth.rsplit("####", 1)[1].replace(",", "") if "####" in ground_truth else ground_truth
    parsed = _parse(_clean(text)) if text.strip() else ()
    if not parsed:
        raise GroundTruthError(f"math ground truth {ground_truth!r} cannot be parsed by math-verify")
    return parsed


def _equivalent(gold: tuple[Any, ...], target: tuple[Any, ...]) -> bool:
    return verify(list(gold), list(target), timeout_seconds=_timeout())


class MathGrader:
    """Grades final answers of math problems against LaTeX or numeric ground truth."""

    domain = "math"

    def extract(self, response: str) -> str | None:
        segment = final_segment(response)
        boxed = _last_boxed(segment)
        if boxed is not None:
            return _clean(boxed) or None
        for pattern in (_HASHES, _ANSWER_LINE):
            matches = pattern.findall(segment)
            if matches:
                return _clean(matches[-1]) or None
        bare = _bare_answer(segment)
        return (_clean(bare) or None) if bare else None

    def grade(self, response: str, ground_truth: str) -> Score:
        gold = _parse_gold(ground_truth)
        answer = self.extract(response)
        if answer is None:
            return no_answer("no \\boxed{} or final-answer line in the final answer")
        if reason := _too_complex(answer):
            return Score(0.0, False, answer, reason)
        target = _parse(answer)
        if not target:
            return Score(0.0, False, answer, "math-verify could not parse the answer")
        if _equivalent(gold, target):
            return Score(1.0, True, answer, "equivalent to the ground truth")
        return Score(0.0, False, answer, "not equivalent to the ground truth")

    def same_answer(self, a: str, b: str) -> bool:
        a, b = _clean(a), _clean(b)
        if _too_complex(a) or _too_complex(b):
            return normalise_text(a) == normalise_text(b)
        pa, pb = _parse(a), _parse(b)
        if not pa or not pb:
            return normalise_text(a) == normalise_text(b)
        return _equivalent(pa, pb) and _equivalent(pb, pa)


GRADER = MathGrader()
