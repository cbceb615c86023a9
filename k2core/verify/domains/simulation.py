"""Simulation grader: program-output prediction (``gen:simulation``) and countdown (``gen:countdown``).

Ground truth is JSON with a ``kind``: ``{"kind": "program_output", "output": "..."}`` is matched after
collapsing whitespace; ``{"kind": "countdown", "numbers": [...], "target": T, "use_all": bool}`` is checked by
evaluating the answered expression (only + - * / and parentheses, each number at most once, exactly once
with ``use_all``) with exact fractions.
"""

from __future__ import annotations

import ast
import operator
import re
from collections import Counter
from fractions import Fraction

from k2core.verify.base import GroundTruthError, Score, no_answer
from k2core.verify.spans import answer_span, clean, last_line, parse_truth, unwrap_latex

DOMAIN = "simulation"
_MAX_EXPRESSION = 300
_SYMBOLS = {"\\times": "*", "×": "*", "\\cdot": "*", "·": "*", "\\div": "/", "÷": "/", "−": "-", "–": "-"}
_SYMBOLS |= {"\\left": "", "\\right": "", "[": "(", "]": ")", "\\{": "(", "\\}": ")"}
_FRAC = re.compile(r"\\[dt]?frac\s*\{([^{}]*)\}\s*\{([^{}]*)\}")
_OPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv}


def collapse(text: str) -> str:
    """Whitespace-normalised text: every run of whitespace becomes one space, ends stripped."""
    return " ".join(text.split())


class ExpressionError(ValueError):
    """An answered expression that is not plain arithmetic over integers."""


def expression_text(span: str) -> str:
    """The arithmetic part of an answer span: LaTeX operators mapped to Python, ``= target`` dropped."""
    if len(span) > 4 * _MAX_EXPRESSION:
        raise ExpressionError("expression too long")
    span = unwrap_latex(span).strip().strip("*`").strip()
    for symbol, replacement in _SYMBOLS.items():
        span = span.replace(symbol, replacement)
    while _FRAC.search(span):
        span = _FRAC.sub(r"(\1)/(\2)", span)
    sides = [side.strip() for side in span.split("=")]
    return next((side for side in sides if re.search(r"[-+*/]", side)), sides[0])


def parse_expression(expression: str) -> ast.expr:
    """The syntax tree of an expression made only of integers, + - * / and parentheses."""
    if len(expression) > _MAX_EXPRESSION:
        raise ExpressionError("expression too long")
    try:
        tree = ast.parse(expression, mode="eval").body
    except SyntaxError as exc:
        raise ExpressionError(f"not an arithmetic expression: {expression!r}") from exc
    for node in ast.walk(tree):
        if not isinstance(node, (ast.BinOp, ast.Constant, *_OPS)) or (
            isinstance(node, ast.Constant) and type(node.value) is not int
        ):
            raise ExpressionError(f"unsupported element {type(node).__name__} in {expression!r}")
    return tree


def numbers_used(tree: ast.expr) -> list[int]:
    """The integers an expression uses, with repeats."""
    return [node.value for node in ast.walk(tree) if isinstance(node, ast.Constant) and type(node.value) is int]


def value(tree: ast.expr) -> Fraction:
    """The exact value of a parsed expression; division by zero is an ExpressionError."""
    if isinstance(tree, ast.Constant) and type(tree.value) is int:
        return Fraction(tree.value)
    if not isinstance(tree, ast.BinOp):
        raise ExpressionError(f"unsupported element {type(tree).__name__}")
    try:
        return _OPS[type(tree.op)](value(tree.left), value(tree.right))
    except ZeroDivisionError as exc:
        raise ExpressionError("division by zero") from exc


def _countdown_truth(truth: dict, ground_truth: str) -> tuple[list[int], int, bool]:
    numbers, target = truth.get("numbers"), truth.get("target")
    if not (isinstance(numbers, list) and numbers and all(type(n) is int for n in numbers) and type(target) is int):
        raise GroundTruthError(f"countdown needs integer 'numbers' and 'target': {ground_truth[:80]!r}")
    return numbers, target, bool(truth.get("use_all", False))


def _grade_countdown(response: str, numbers: list[int], target: int, use_all: bool) -> Score:
    span = answer_span(response) or last_line(response)
    if not span:
        return no_answer("no expression found")
    expression = span[:_MAX_EXPRESSION]
    try:
        expression = expression_text(span)
        tree = parse_expression(expression)
        used = numbers_used(tree)
        spare = Counter(numbers)
        spare.subtract(used)
        if any(count < 0 for count in spare.values()):
            return Score(0.0, False, expression, f"uses numbers not available: {sorted(used)} from {numbers}")
        if use_all and any(spare.values()):
            return Score(0.0, False, expression, "does not use every number exactly once")
        result = value(tree)
    except ExpressionError as exc:
        return Score(0.0, False, expression, str(exc))
    if result != target:
        return Score(0.0, False, expression, f"evaluates to {result}, not {target}")
    return Score(1.0, True, expression, f"reaches {target}")


def _grade_output(response: str, expected: str) -> Score:
    span = answer_span(response)
    if span is None:
        return no_answer("no output block, \\boxed{} or Output: line found")
    if collapse(expected) in (collapse(span), collapse(clean(span))):
        return Score(1.0, True, span, "output matches")
    return Score(0.0, False, span, "output differs")


class SimulationGrader:
    """Program output: whitespace-normalised equality. Countdown: the expression is evaluated and checked."""

    domain = DOMAIN

    def extract(self, response: str) -> str | None:
        return answer_span(response)

    def grade(self, response: str, ground_truth: str) -> Score:
        truth = parse_truth(ground_truth, ("program_output", "countdown"))
        if truth["kind"] == "countdown":
            return _grade_countdown(response, *_countdown_truth(truth, ground_truth))
        if not isinstance(truth.get("output"), str):
            raise GroundTruthError(f"program_output needs a string 'output': {ground_truth[:80]!r}")
        return _grade_output(response, truth["output"])

    def same_answer(self, a: str, b: str) -> bool:
        return collapse(a) == collapse(b)


GRADER = SimulationGrader()
