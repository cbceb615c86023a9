"""``gen:arith``: answers checked by Python's own evaluation of the expression in the prompt."""

import re
from fractions import Fraction

import pytest

from k2core.data import generate

EXPRESSION = re.compile(r"^What is ([\d +\-*/]+)\?")


def python_value(prompt: str) -> Fraction:
    """Evaluate the prompt's expression with Python, integers as exact fractions."""
    expression = EXPRESSION.match(prompt).group(1)
    return eval(re.sub(r"(\d+)", r"Fraction(\1)", expression), {"Fraction": Fraction, "__builtins__": {}})


@pytest.mark.parametrize(
    "knobs",
    [{}, {"operands": 3, "digits": 2, "ops": "+-*"}, {"operands": 5, "digits": 3, "ops": "+-*/"}, {"ops": "/"}],
)
def test_answer_is_the_integer_value_of_the_expression(knobs: dict) -> None:
    for problem in generate("arith", 100, 11, knobs):
        value = python_value(problem.prompt)
        assert value.denominator == 1 and value >= 0
        assert problem.answer == str(value.numerator)
        assert "\\boxed{}" in problem.prompt


def test_negative_results_only_when_allowed() -> None:
    answers = [int(p.answer) for p in generate("arith", 200, 0, {"ops": "-", "allow_negative": True})]
    assert min(answers) < 0
    assert min(int(p.answer) for p in generate("arith", 200, 0, {"ops": "-"})) >= 0


def test_digits_knob_bounds_operands() -> None:
    for problem in generate("arith", 50, 2, {"digits": 2, "ops": "+-"}):
        assert all(10 <= int(n) <= 99 for n in re.findall(r"\d+", EXPRESSION.match(problem.prompt).group(1)))


def test_math_grader_accepts_the_answer() -> None:
    verify = pytest.importorskip("k2core.verify.domains.math")
    for problem in generate("arith", 10, 0):
        assert verify.GRADER.grade(f"So \\boxed{{{problem.answer}}}", problem.answer).correct
        assert not verify.GRADER.grade(f"\\boxed{{{int(problem.answer) + 1}}}", problem.answer).correct
