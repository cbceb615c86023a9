"""Ordering puzzles (one-attribute zebra): people in a queue, clues added until one order fits, then pruned.

Uniqueness is checked by enumerating all orders at generation time. Ground truth:
``{"kind": "ordering", "answer": ["front", ..., "back"]}``.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass

from k2core.data.generators.base import NAMES, Generated, check_range
from k2core.data.problem import canonical_json

Order = tuple[str, ...]
_POSITIONAL = ("at", "not_at")


@dataclass(frozen=True)
class Clue:
    """One fact about the order: ``kind`` with people ``x``/``y`` and a position ``k`` (1-based) where used."""

    kind: str
    x: str
    y: str = ""
    k: int = 0

    def holds(self, order: Order) -> bool:
        i = order.index(self.x) + 1
        if self.kind in _POSITIONAL:
            return (i == self.k) == (self.kind == "at")
        gap = order.index(self.y) + 1 - i
        match self.kind:
            case "before":
                return gap > 0
            case "directly":
                return gap == 1
            case "adjacent":
                return abs(gap) == 1
            case "not_adjacent":
                return abs(gap) != 1
            case "one_between":
                return abs(gap) == 2
        raise ValueError(f"unknown clue kind {self.kind!r}")

    def text(self) -> str:
        return {
            "before": f"{self.x} stands somewhere in front of {self.y}.",
            "directly": f"{self.x} stands directly in front of {self.y}.",
            "at": f"{self.x} is in position {self.k}.",
            "not_at": f"{self.x} is not in position {self.k}.",
            "adjacent": f"{self.x} and {self.y} stand next to each other.",
            "not_adjacent": f"{self.x} and {self.y} do not stand next to each other.",
            "one_between": f"Exactly one person stands between {self.x} and {self.y}.",
        }[self.kind]


_KINDS = ("before", "before", "directly", "at", "not_at", "not_at", "adjacent", "not_adjacent", "one_between")


@dataclass(frozen=True)
class OrderingConfig:
    """Knobs: how many people stand in the queue (people! orders are searched)."""

    people: int = 4

    def __post_init__(self) -> None:
        check_range("people", self.people, 3, 7)


def _true_clue(rng: random.Random, truth: Order) -> Clue:
    """A random clue that holds for ``truth``."""
    while True:
        kind = rng.choice(_KINDS)
        x, y = rng.sample(truth, 2)
        clue = Clue(kind, x, k=rng.randint(1, len(truth))) if kind in _POSITIONAL else Clue(kind, x, y)
        if clue.holds(truth):
            return clue


def _fits(orders: list[Order], clues: list[Clue]) -> list[Order]:
    return [o for o in orders if all(c.holds(o) for c in clues)]


def make(rng: random.Random, config: OrderingConfig) -> Generated:
    """One queue puzzle with a unique order and no redundant clue."""
    people = rng.sample(NAMES, config.people)
    truth: Order = tuple(rng.sample(people, len(people)))
    orders = list(itertools.permutations(people))
    clues: list[Clue] = []
    survivors = orders
    while len(survivors) > 1:
        clue = _true_clue(rng, truth)
        left = _fits(survivors, [clue])
        if len(left) < len(survivors):
            clues.append(clue)
            survivors = left
    for clue in list(clues):
        rest = [c for c in clues if c is not clue]
        if len(_fits(orders, rest)) == 1:
            clues = rest
    rng.shuffle(clues)
    listing = "\n".join(f"- {c.text()}" for c in clues)
    prompt = (
        f"{len(people)} people stand in a queue, one behind another: {', '.join(sorted(people))}. "
        f"Position 1 is the front and position {len(people)} is the back.\n{listing}\n\n"
        "What is the order of the queue? Reason step by step, then list everyone from front to back within "
        "\\boxed{}, e.g. \\boxed{first, second, ..., last}."
    )
    meta = {"kind": "ordering", "people": people, "clues": [c.text() for c in clues]}
    return Generated(prompt, canonical_json({"kind": "ordering", "answer": list(truth)}), meta)
