"""Countdown: an independent brute-force search shows every target is reachable; the kept solution checks out."""

import itertools
import json
import re
from collections import Counter
from fractions import Fraction
from functools import cache

import pytest

from k2core.data import generate


def reaches(values: list[Fraction], target: Fraction) -> bool:
    """Depth-first search: combine any two values with + - * / until the target appears (each number once)."""
    return _reaches(tuple(sorted(values)), target)


@cache
def _reaches(values: tuple[Fraction, ...], target: Fraction) -> bool:
    if target in values:
        return True
    for i, j in itertools.combinations(range(len(values)), 2):
        a, b = values[i], values[j]
        rest = [v for k, v in enumerate(values) if k not in (i, j)]
        results = {a + b, a - b, b - a, a * b} | ({a / b} if b else set()) | ({b / a} if a else set())
        if any(_reaches(tuple(sorted([*rest, value])), target) for value in results):
            return True
    return False


def python_value(expression: str) -> Fraction:
    return eval(re.sub(r"(\d+)", r"Fraction(\1)", expression), {"Fraction": Fraction, "__builtins__": {}})


@pytest.mark.parametrize(
    ("knobs", "count"), [({}, 30), ({"numbers": 3}, 30), ({"numbers": 5, "max_number": 25, "max_target": 500}, 6)]
)
def test_target_is_reachable_and_solution_is_valid(knobs: dict, count: int) -> None:
    for problem in generate("countdown", count, 3, knobs):
        truth = json.loads(problem.answer)
        numbers, target = truth["numbers"], truth["target"]
        assert reaches([Fraction(n) for n in numbers], Fraction(target))
        assert 10 <= target <= knobs.get("max_target", 100) and target not in numbers
        solution = problem.meta["solution"]
        assert python_value(solution) == target
        assert not Counter(map(int, re.findall(r"\d+", solution))) - Counter(numbers)
        assert f"equals {target}" in problem.prompt and ", ".join(map(str, numbers)) in problem.prompt


def test_use_all_solutions_use_every_number_once() -> None:
    for problem in generate("countdown", 30, 0, {"numbers": 4, "use_all": True}):
        truth = json.loads(problem.answer)
        assert truth["use_all"] is True and "exactly once" in problem.prompt
        assert Counter(map(int, re.findall(r"\d+", problem.meta["solution"]))) == Counter(truth["numbers"])


def test_grader_accepts_the_solution_and_rejects_a_near_miss() -> None:
    from k2core.verify.domains.simulation import GRADER

    for problem in generate("countdown", 20, 8):
        solution = problem.meta["solution"]
        assert GRADER.grade(f"<think>...</think>\\boxed{{{solution}}}", problem.answer).correct
        assert not GRADER.grade(f"\\boxed{{{solution} + 1}}", problem.answer).correct


def test_the_search_is_a_real_check() -> None:
    assert reaches([Fraction(n) for n in (2, 3, 4)], Fraction(20))
    assert not reaches([Fraction(n) for n in (1, 1, 1)], Fraction(10))
