"""What every generator shares: seeded per-item randomness, knob parsing, and the Generator record."""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from k2core.data.problem import Problem

NAMES: tuple[str, ...] = (
    "Alice", "Bob", "Carol", "David", "Erin", "Frank", "Grace", "Henry",
    "Iris", "Jack", "Kate", "Leo", "Mia", "Noah", "Olga", "Paul",
)  # fmt: skip


@dataclass(frozen=True)
class Generated:
    """One generated task before it gets its id: prompt, ground truth and structured meta."""

    prompt: str
    answer: str
    meta: dict[str, Any]


@dataclass(frozen=True)
class Generator:
    """A named generator: its domain, its knobs (a frozen dataclass with defaults) and how to make one task."""

    name: str
    domain: str
    config: type
    make: Callable[[random.Random, Any], Generated]

    def iterate(self, count: int, seed: int = 0, knobs: Mapping[str, Any] | None = None) -> Iterator[Problem]:
        """Problems ``0..count-1`` for this seed; problem i depends only on (name, seed, i, knobs).

        Knobs are checked at once (a bad one raises ValueError here), the problems are made lazily."""
        config = build_config(self.config, knobs or {})
        return (self._problem(config, seed, index) for index in range(count))

    def _problem(self, config: Any, seed: int, index: int) -> Problem:
        item = self.make(random.Random(f"{self.name}:{seed}:{index}"), config)
        meta = {"generator": f"gen:{self.name}", "seed": seed, "index": index, **item.meta}
        return Problem(f"gen:{self.name}:{seed}:{index}", self.domain, item.prompt, item.answer, meta)


def build_config(config: type, knobs: Mapping[str, Any]) -> Any:
    """The config dataclass with knobs applied; text values (from the CLI) are parsed by the default's type."""
    defaults = {f.name: f.default for f in dataclasses.fields(config)}
    values = {}
    for key, value in knobs.items():
        if key not in defaults:
            raise ValueError(f"unknown knob {key!r}; expected one of {', '.join(defaults)}")
        values[key] = _parse(key, value, defaults[key]) if isinstance(value, str) else value
    return config(**values)


def _parse(key: str, text: str, default: Any) -> Any:
    try:
        if isinstance(default, bool):
            if text.lower() not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError(text)
            return text.lower() in ("true", "1", "yes")
        if isinstance(default, tuple):
            return tuple(part.strip() for part in text.split(",") if part.strip())
        return type(default)(text)
    except ValueError:
        raise ValueError(f"knob {key!r}: cannot read {text!r} as {type(default).__name__}") from None


def check_range(knob: str, value: int, low: int, high: int) -> None:
    """Raise a ValueError naming the knob when ``value`` is outside ``[low, high]``."""
    if not low <= value <= high:
        raise ValueError(f"knob {knob!r} must be between {low} and {high}, got {value}")


def check_choices(knob: str, values: tuple[str, ...], allowed: tuple[str, ...]) -> None:
    """Raise a ValueError naming the knob unless ``values`` is a non-empty subset of ``allowed``."""
    unknown = [v for v in values if v not in allowed]
    if unknown or not values:
        raise ValueError(f"knob {knob!r}: expected some of {', '.join(allowed)}, got {', '.join(values) or 'none'}")
