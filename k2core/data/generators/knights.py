"""Knights and knaves with k people: statements are added until exactly one assignment satisfies them all.

Knights always tell the truth, knaves always lie. Uniqueness is checked by enumerating all 2^k assignments at
generation time. Ground truth: ``{"kind": "knights_knaves", "answer": {"Alice": "knight", ...}}``.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Sequence
from dataclasses import dataclass

from k2core.data.generators.base import NAMES, Generated, check_range
from k2core.data.problem import canonical_json

Assignment = dict[str, bool]  # True = knight


def role(knight: bool) -> str:
    return "knight" if knight else "knave"


@dataclass(frozen=True)
class Is:
    """Statement: X is a knight (or a knave)."""

    x: str
    knight: bool

    def holds(self, a: Assignment) -> bool:
        return a[self.x] == self.knight

    def text(self) -> str:
        return f"{self.x} is a {role(self.knight)}."


@dataclass(frozen=True)
class Both:
    """Statement: X and Y are both knights (or both knaves)."""

    x: str
    y: str
    knight: bool

    def holds(self, a: Assignment) -> bool:
        return a[self.x] == self.knight and a[self.y] == self.knight

    def text(self) -> str:
        return f"{self.x} and {self.y} are both {role(self.knight)}s."


@dataclass(frozen=True)
class AtLeastOne:
    """Statement: at least one of X and Y is a knight (or a knave)."""

    x: str
    y: str
    knight: bool

    def holds(self, a: Assignment) -> bool:
        return a[self.x] == self.knight or a[self.y] == self.knight

    def text(self) -> str:
        return f"At least one of {self.x} and {self.y} is a {role(self.knight)}."


@dataclass(frozen=True)
class Same:
    """Statement: X and Y are the same kind (or different kinds)."""

    x: str
    y: str
    same: bool

    def holds(self, a: Assignment) -> bool:
        return (a[self.x] == a[self.y]) == self.same

    def text(self) -> str:
        return f"{self.x} and {self.y} are {'the same kind' if self.same else 'different kinds'}."


@dataclass(frozen=True)
class Implies:
    """Statement: if X is a knight (knave), then Y is a knight (knave)."""

    x: str
    x_knight: bool
    y: str
    y_knight: bool

    def holds(self, a: Assignment) -> bool:
        return a[self.x] != self.x_knight or a[self.y] == self.y_knight

    def text(self) -> str:
        return f"If {self.x} is a {role(self.x_knight)}, then {self.y} is a {role(self.y_knight)}."


@dataclass(frozen=True)
class Exactly:
    """Statement: exactly n of us are knights (or knaves), counted over everyone in the puzzle."""

    n: int
    knight: bool

    def holds(self, a: Assignment) -> bool:
        return sum(v == self.knight for v in a.values()) == self.n

    def text(self) -> str:
        noun = f"is a {role(self.knight)}" if self.n == 1 else f"are {role(self.knight)}s"
        return f"Exactly {self.n} of us {noun}."


Statement = Is | Both | AtLeastOne | Same | Implies | Exactly


@dataclass(frozen=True)
class KnightsConfig:
    """Knobs: how many people (difficulty grows with it; 2^people assignments)."""

    people: int = 3

    def __post_init__(self) -> None:
        check_range("people", self.people, 2, 8)


def assignments(people: Sequence[str]) -> list[Assignment]:
    """Every knight/knave assignment of ``people``."""
    return [dict(zip(people, bits)) for bits in itertools.product((True, False), repeat=len(people))]


def consistent(a: Assignment, claims: list[tuple[str, Statement]]) -> bool:
    """Whether every speaker's statement is true exactly when the speaker is a knight."""
    return all(s.holds(a) == a[speaker] for speaker, s in claims)


def _statement(rng: random.Random, speaker: str, people: Sequence[str]) -> Statement:
    others = [p for p in people if p != speaker]
    x, y = rng.sample(others, 2) if len(others) > 1 else (others[0], speaker)
    kind = rng.randrange(6)
    flag = rng.random() < 0.5
    if kind == 0:
        return Is(x, flag)
    if kind == 1:
        return Both(x, y, flag)
    if kind == 2:
        return AtLeastOne(x, y, flag)
    if kind == 3:
        return Same(x, y, flag)
    if kind == 4:
        return Implies(x, flag, y, rng.random() < 0.5)
    return Exactly(rng.randint(0, len(people)), flag)


def _claim(
    rng: random.Random, speaker: str, truth: Assignment, survivors: list[Assignment], cut: bool
) -> Statement | None:
    """A statement ``speaker`` can make given ``truth``; with ``cut`` it must also rule out a survivor."""
    for _ in range(200):
        statement = _statement(rng, speaker, list(truth))
        if statement.holds(truth) != truth[speaker]:
            continue
        if not cut or any(statement.holds(a) != a[speaker] for a in survivors):
            return statement
    return None


def _claims(rng: random.Random, truth: Assignment) -> list[tuple[str, Statement]]:
    """Everyone speaks once (preferring useful statements), then more claims until one assignment survives."""
    claims: list[tuple[str, Statement]] = []
    survivors = assignments(list(truth))
    for speaker in truth:
        statement = _claim(rng, speaker, truth, survivors, True) or _claim(rng, speaker, truth, survivors, False)
        if statement is not None:
            claims.append((speaker, statement))
            survivors = [a for a in survivors if consistent(a, claims[-1:])]
    while len(survivors) > 1:
        speaker = rng.choice(list(truth))
        if (statement := _claim(rng, speaker, truth, survivors, True)) is not None:
            claims.append((speaker, statement))
            survivors = [a for a in survivors if consistent(a, claims[-1:])]
    return claims


def make(rng: random.Random, config: KnightsConfig) -> Generated:
    """One puzzle with a unique solution; the meta holds the claims for inspection."""
    people = rng.sample(NAMES, config.people)
    truth = {p: rng.random() < 0.5 for p in people}
    claims = _claims(rng, truth)
    lines = "\n".join(f'{speaker} says: "{statement.text()}"' for speaker, statement in claims)
    prompt = (
        "On an island every inhabitant is either a knight, who always tells the truth, or a knave, who always "
        f"lies. You meet {len(people)} inhabitants: {', '.join(people)}.\n{lines}\n\n"
        "Who is a knight and who is a knave? Reason step by step, then give every person's role within "
        "\\boxed{}, e.g. \\boxed{Name: knight, Name: knave, ...}."
    )
    answer = {"kind": "knights_knaves", "answer": {p: role(truth[p]) for p in people}}
    meta = {"kind": "knights_knaves", "people": people, "claims": [[s, st.text()] for s, st in claims]}
    return Generated(prompt, canonical_json(answer), meta)
