"""One verification library for six domains: used by RL rewards and by test-time selection."""

from __future__ import annotations

import importlib
from functools import cache

from k2core.verify.base import Grader, GroundTruthError, Score, final_segment, no_answer
from k2core.verify.spans import answer_text

DOMAINS: tuple[str, ...] = ("math", "code", "science", "logic", "simulation", "tabular")

__all__ = [
    "DOMAINS",
    "Grader",
    "GroundTruthError",
    "Score",
    "extract",
    "extract_answer",
    "final_segment",
    "get_grader",
    "grade",
    "no_answer",
    "same_answer",
]


@cache
def get_grader(domain: str) -> Grader:
    """The grader for a domain; each module in ``k2core.verify.domains`` exposes ``GRADER``."""
    if domain not in DOMAINS:
        raise ValueError(f"domain: unknown domain {domain!r}; expected one of {', '.join(DOMAINS)}")
    module = importlib.import_module(f"k2core.verify.domains.{domain}")
    return module.GRADER


def grade(domain: str, response: str, ground_truth: str) -> Score:
    """Grade one response in a domain."""
    return get_grader(domain).grade(response, ground_truth)


def extract(domain: str, response: str) -> str | None:
    """Extract the final answer of a response in a domain."""
    return get_grader(domain).extract(response)


def extract_answer(domain: str, response: str) -> str | None:
    """The one answer extraction: what the domain's grader reads (a blank answer is None); for a domain without a
    grader, the generic span after ``</think>`` (the last ``\\boxed{}``, fenced block or ``Answer:`` line)."""
    answer = extract(domain, response) if domain in DOMAINS else answer_text(response)
    return answer if answer is not None and answer.strip() else None


def same_answer(domain: str, a: str, b: str) -> bool:
    """Whether two extracted answers are equivalent in a domain."""
    return get_grader(domain).same_answer(a, b)
