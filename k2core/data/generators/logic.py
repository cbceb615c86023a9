"""``gen:logic``: a seeded mix of knights-and-knaves and ordering puzzles (domain logic)."""

from __future__ import annotations

import random
from dataclasses import dataclass

from k2core.data.generators import knights, ordering
from k2core.data.generators.base import Generated, check_choices, check_range

_MAKERS = {
    "knights_knaves": lambda rng, people: knights.make(rng, knights.KnightsConfig(people)),
    "ordering": lambda rng, people: ordering.make(rng, ordering.OrderingConfig(people)),
}


@dataclass(frozen=True)
class LogicConfig:
    """Knobs: which puzzle kinds to mix and how many people each puzzle has (3 to 7)."""

    people: int = 3
    kinds: tuple[str, ...] = tuple(_MAKERS)

    def __post_init__(self) -> None:
        check_range("people", self.people, 3, 7)
        check_choices("kinds", self.kinds, tuple(_MAKERS))


def make(rng: random.Random, config: LogicConfig) -> Generated:
    """One puzzle of a kind drawn from ``config.kinds``."""
    return _MAKERS[rng.choice(config.kinds)](rng, config.people)
