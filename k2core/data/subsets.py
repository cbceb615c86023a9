"""Seeded subsets of a dataset: the same seed gives the same problems, optionally stratified by a meta field."""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Sequence

from k2core.data.problem import Problem

__all__ = ["seeded_subset"]


def _allocate(sizes: dict[str, int], total: int) -> dict[str, int]:
    """Largest-remainder proportional allocation of ``total`` over strata of the given sizes."""
    population = sum(sizes.values())
    exact = {key: total * size / population for key, size in sizes.items()}
    counts = {key: int(value) for key, value in exact.items()}
    leftover = total - sum(counts.values())
    for key in sorted(exact, key=lambda k: (counts[k] - exact[k], k))[:leftover]:
        counts[key] += 1
    return counts


def seeded_subset(problems: Sequence[Problem], size: int, seed: int, strata: str | None = None) -> list[Problem]:
    """``size`` problems drawn with ``random.Random(seed)``, in their original order.

    With ``strata`` (a meta key such as MATH-500's ``level``) every stratum keeps its share of the whole
    (largest remainder), so a 100-problem subset of MATH-500 has each level in proportion."""
    if size < 1:
        raise ValueError(f"sample: must be at least 1, got {size}")
    if size >= len(problems):
        return list(problems)
    groups: dict[str, list[int]] = defaultdict(list)
    for index, problem in enumerate(problems):
        groups[str(problem.meta.get(strata, "")) if strata else ""].append(index)
    rng = random.Random(seed)
    chosen: list[int] = []
    for key, count in sorted(_allocate({k: len(v) for k, v in groups.items()}, size).items()):
        chosen += rng.sample(groups[key], count)
    return [problems[i] for i in sorted(chosen)]
