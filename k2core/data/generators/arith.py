"""``gen:arith``: easy arithmetic for plumbing-scale models ("What is 7 + 5?"); the answer is integer text."""

from __future__ import annotations

import random
from dataclasses import dataclass
from fractions import Fraction

from k2core.data import instructions
from k2core.data.generators.base import Generated, check_range

_OPS = "+-*/"


@dataclass(frozen=True)
class ArithConfig:
    """Knobs: how many operands, digits per operand, which operators, whether results may be negative."""

    operands: int = 2
    digits: int = 1
    ops: str = "+-"
    allow_negative: bool = False

    def __post_init__(self) -> None:
        check_range("operands", self.operands, 2, 8)
        check_range("digits", self.digits, 1, 6)
        if not self.ops or set(self.ops) - set(_OPS):
            raise ValueError(f"knob 'ops' must be some of {_OPS!r}, got {self.ops!r}")


def value(numbers: list[int], ops: list[str]) -> Fraction:
    """Evaluate ``n0 op0 n1 op1 ...`` with the usual precedence (* and / before + and -)."""
    total, term = Fraction(0), Fraction(numbers[0])
    sign = 1
    for op, number in zip(ops, numbers[1:]):
        if op == "*":
            term *= number
        elif op == "/":
            term /= number
        else:
            total += sign * term
            sign, term = (1 if op == "+" else -1), Fraction(number)
    return total + sign * term


def _draw(rng: random.Random, config: ArithConfig) -> tuple[list[int], list[str]]:
    """Operands and operators; a number before ``/`` is made a multiple of the divisor so division is exact."""
    low, high = (1 if config.digits == 1 else 10 ** (config.digits - 1)), 10**config.digits - 1
    numbers = [rng.randint(low, high) for _ in range(config.operands)]
    ops: list[str] = []
    for i in range(1, config.operands):
        choices = [op for op in config.ops if not (op == "/" and ops and ops[-1] == "/")] or ["+"]
        op = rng.choice(choices)
        if op == "/":
            numbers[i] = max(numbers[i], 2)
            numbers[i - 1] = numbers[i] * rng.randint(1, max(2, high // numbers[i]))
        ops.append(op)
    return numbers, ops


def make(rng: random.Random, config: ArithConfig) -> Generated:
    """One expression whose value is an integer (non-negative unless allowed)."""
    while True:
        numbers, ops = _draw(rng, config)
        result = value(numbers, ops)
        if result.denominator == 1 and (config.allow_negative or result >= 0):
            break
    expression = " ".join([str(numbers[0])] + [f"{op} {n}" for op, n in zip(ops, numbers[1:])])
    prompt = f"What is {expression}?\n\n{instructions.BOXED}"
    return Generated(prompt, str(result.numerator), {"kind": "arith", "expression": expression})
