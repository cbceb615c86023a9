"""``gen:countdown``: reach a target from given numbers with + - * / (domain simulation, checked by evaluation).

The target is built by combining a random subset of the numbers, so a solution exists by construction (kept
in meta). Ground truth: ``{"kind": "countdown", "numbers": [...], "target": T, "use_all": bool}``; any
expression that uses each number at most once (exactly once with ``use_all``) and equals T is correct.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from k2core.data.generators.base import Generated, check_range
from k2core.data.problem import canonical_json

Term = tuple[int, str, bool]  # value, text, whether the text is a compound expression


@dataclass(frozen=True)
class CountdownConfig:
    """Knobs: how many numbers, the largest number, the target range, and whether every number must be used."""

    numbers: int = 4
    max_number: int = 10
    min_target: int = 10
    max_target: int = 100
    use_all: bool = False

    def __post_init__(self) -> None:
        check_range("numbers", self.numbers, 2, 6)
        check_range("max_number", self.max_number, 2, 100)
        check_range("min_target", self.min_target, 2, min(self.max_target, self.max_number**self.numbers))
        check_range("max_target", self.max_target, 2, 100000)


def _wrap(term: Term) -> str:
    return f"({term[1]})" if term[2] else term[1]


def _combine(rng: random.Random, a: Term, b: Term) -> Term:
    """``a op b`` for an operator that keeps every intermediate value a positive integer."""
    if a[0] < b[0]:
        a, b = b, a
    ops = ["+", "*"] + (["-"] if a[0] > b[0] else []) + (["/"] if b[0] > 1 and a[0] % b[0] == 0 else [])
    op = rng.choice(ops)
    value = {"+": a[0] + b[0], "*": a[0] * b[0], "-": a[0] - b[0], "/": a[0] // max(b[0], 1)}[op]
    return value, f"{_wrap(a)} {op} {_wrap(b)}", True


def _build(rng: random.Random, chosen: list[int]) -> Term:
    terms: list[Term] = [(n, str(n), False) for n in chosen]
    while len(terms) > 1:
        a, b = (terms.pop(rng.randrange(len(terms))) for _ in range(2))
        terms.append(_combine(rng, a, b))
    return terms[0]


def make(rng: random.Random, config: CountdownConfig) -> Generated:
    """Numbers, a reachable target that is not one of them, and one expression reaching it."""
    while True:
        numbers = [rng.randint(1, config.max_number) for _ in range(config.numbers)]
        size = config.numbers if config.use_all else rng.randint(max(2, config.numbers - 1), config.numbers)
        target, solution, _ = _build(rng, rng.sample(numbers, size))
        if config.min_target <= target <= config.max_target and target not in numbers:
            break
    rule = "exactly once" if config.use_all else "at most once (you do not have to use all of them)"
    prompt = (
        f"Using the numbers {', '.join(map(str, numbers))}, write an arithmetic expression that equals {target}. "
        f"You may use +, -, *, / and parentheses, and each number {rule}. Reason step by step, then give only the "
        "expression within \\boxed{}, e.g. \\boxed{(1 + 2) * 3}."
    )
    truth = {"kind": "countdown", "numbers": numbers, "target": target, "use_all": config.use_all}
    return Generated(prompt, canonical_json(truth), {"kind": "countdown", "solution": solution})
