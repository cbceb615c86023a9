"""``gen:simulation``: predict what a small generated Python program prints.

Programs are composed from templates with random constants; the expected output is computed by running the
program in-process with a minimal set of builtins (they are our own deterministic programs: no imports, no
I/O besides ``print``). Ground truth: ``{"kind": "program_output", "output": "..."}``.
"""

from __future__ import annotations

import builtins
import contextlib
import io
import random
from collections.abc import Callable
from dataclasses import dataclass

from k2core.data import instructions
from k2core.data.generators.base import Generated, check_range
from k2core.data.problem import canonical_json

_WORDS = ("banana", "kernel", "puzzle", "rocket", "window", "letter", "bottle", "garden", "planet", "silver")
_BUILTINS = {
    name: getattr(builtins, name)
    for name in ("print", "range", "len", "sum", "min", "max", "abs", "sorted", "str", "list", "reversed")
}


def _ints(rng: random.Random, n: int, top: int) -> str:
    return ", ".join(str(rng.randint(1, top)) for _ in range(n))


def _filtered_sum(rng: random.Random, top: int) -> str:
    m = rng.randint(2, 5)
    return (
        f"total = 0\nfor i in range(1, {rng.randint(5, top)}):\n"
        f"    if i % {m} == {rng.randrange(m)}:\n        total += i\nprint(total)\n"
    )


def _strings(rng: random.Random, top: int) -> str:
    word = rng.choice(_WORDS)
    a = rng.randrange(len(word) - 1)
    return f'word = "{word}"\nprint(word[::-1])\nprint(word.upper()[{a}:{rng.randint(a + 1, len(word))}])\n'


def _comprehension(rng: random.Random, top: int) -> str:
    return (
        f"xs = [{_ints(rng, rng.randint(4, 7), top)}]\n"
        f"ys = [x * {rng.randint(2, 4)} for x in xs if x % 2 == {rng.randrange(2)}]\nprint(ys)\nprint(sum(ys))\n"
    )


def _collatz(rng: random.Random, top: int) -> str:
    return (
        f"n = {rng.randint(2, top)}\nsteps = 0\nwhile n != 1:\n    if n % 2 == 0:\n        n = n // 2\n"
        "    else:\n        n = 3 * n + 1\n    steps += 1\nprint(steps)\n"
    )


def _function(rng: random.Random, top: int) -> str:
    a, b, c = rng.randint(2, 5), rng.randint(1, top), rng.randint(1, top)
    return f"def f(x):\n    return x * {a} - {b}\n\nprint(f(f({c})))\n"


def _fibonacci(rng: random.Random, top: int) -> str:
    return f"a, b = 0, 1\nfor _ in range({rng.randint(3, min(top, 25))}):\n    a, b = b, a + b\nprint(a)\n"


def _branch(rng: random.Random, top: int) -> str:
    return (
        f"x = {rng.randint(1, top)}\nif x > {rng.randint(1, top)}:\n    x = x - {rng.randint(1, top)}\n"
        f"else:\n    x = x * {rng.randint(2, 5)}\nprint(x)\n"
    )


def _nested(rng: random.Random, top: int) -> str:
    return (
        f"count = 0\nfor i in range({rng.randint(2, min(top, 12))}):\n    for j in range(i):\n"
        f"        if (i + j) % {rng.randint(2, 4)} == 0:\n            count += j\nprint(count)\n"
    )


def _stack(rng: random.Random, top: int) -> str:
    return (
        f"stack = []\nfor v in [{_ints(rng, rng.randint(5, 8), top)}]:\n    if v % 3 == 0 and stack:\n"
        "        stack.pop()\n    else:\n        stack.append(v)\nprint(stack)\n"
    )


def _letters(rng: random.Random, top: int) -> str:
    word = "".join(rng.sample(_WORDS, 2))
    return (
        f'counts = {{}}\nfor ch in "{word}":\n    counts[ch] = counts.get(ch, 0) + 1\n'
        "print(sorted(k for k in counts if counts[k] > 1))\nprint(len(counts))\n"
    )


TEMPLATES: tuple[Callable[[random.Random, int], str], ...] = (
    _filtered_sum, _strings, _comprehension, _collatz, _function, _fibonacci, _branch, _nested, _stack, _letters,
)  # fmt: skip


@dataclass(frozen=True)
class ProgramConfig:
    """Knobs: how many template blocks a program chains and the largest constant it uses."""

    blocks: int = 2
    max_value: int = 20

    def __post_init__(self) -> None:
        check_range("blocks", self.blocks, 1, len(TEMPLATES))
        check_range("max_value", self.max_value, 5, 1000)


def run(program: str) -> str:
    """Run one of our generated programs and return what it prints."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(program, "<generated>", "exec"), {"__builtins__": _BUILTINS})  # noqa: S102 - own program
    return out.getvalue()


def make(rng: random.Random, config: ProgramConfig) -> Generated:
    """A program of ``config.blocks`` distinct templates and its exact output."""
    program = "\n".join(t(rng, config.max_value) for t in rng.sample(TEMPLATES, config.blocks))
    prompt = f"What does this Python program print?\n\n```python\n{program}```\n\n{instructions.OUTPUT}"
    answer = {"kind": "program_output", "output": run(program).rstrip("\n")}
    return Generated(prompt, canonical_json(answer), {"kind": "program_output", "program": program})
