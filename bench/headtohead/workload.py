"""What every system is given alike: the problems (a fixed seeded subset), N, candidate sampling and seeds."""

from __future__ import annotations

from dataclasses import dataclass

from k2core.data import Problem, load_dataset
from k2core.data.datasets import GEN_PREFIX

DATASET = "gsm8k_test"


@dataclass(frozen=True)
class Workload:
    """N candidates per request and how each candidate is sampled (temperature, top-p, token cap); the reference
    flow keeps its own solver settings and a cap only when ``reference_max_tokens`` sets one."""

    n: int = 3
    max_tokens: int = 1024
    temperature: float = 1.0
    top_p: float = 0.95
    reference_max_tokens: int | None = None


def load_problems(dataset: str, size: int, seed: int) -> list[Problem]:
    """A fixed seeded subset of ``size`` problems of a file dataset, or ``size`` generated ``gen:`` problems."""
    if size < 1:
        raise ValueError(f"limit: need at least 1 problem, got {size}")
    if dataset.startswith(GEN_PREFIX):
        return load_dataset(dataset, size, seed)
    return load_dataset(dataset, seed=seed, sample=size)


def sampling_seed(seed: int, round_no: int, index: int) -> int:
    """The sampling seed of problem ``index`` in round ``round_no``: fresh per round, the same for every system."""
    return seed * 1000 + index + 100_000 * round_no
