"""One system's run on one problem, how a response is graded, and the shape of a system."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from k2core import verify
from k2core.data import Problem

_ANSWER_TAG = re.compile(r"<answer>(.*?)</answer>", re.DOTALL)


@dataclass
class Outcome:
    """One system on one problem: graded choice, wall time, tokens the backend generated, calls and candidates."""

    correct: bool = False
    seconds: float = 0.0
    prompt_tokens: int | None = 0
    completion_tokens: int = 0
    calls: int = 0
    judge_calls: int = 0
    candidates: int | None = None
    error: str | None = None
    problem_id: str = ""
    round: int = 0
    candidates_correct: list[bool] | None = None


SystemFn = Callable[[Problem, int], Awaitable[Outcome]]


def graded(problem: Problem, text: str | None) -> bool:
    """Whether ``text`` answers ``problem`` correctly. An answer the reference's prompt puts in ``<answer>`` tags
    (with no ``\\boxed{}``) is read as a final-answer line, so each system is graded where its prompt asks."""
    if not text:
        return False
    tagged = _ANSWER_TAG.findall(text)
    if tagged and "\\boxed" not in text:
        text = f"{text}\nAnswer: {tagged[-1].strip()}"
    return verify.grade(problem.domain, text, problem.answer).correct
