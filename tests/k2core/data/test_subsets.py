"""Seeded subsets: reproducible, in file order, stratified in proportion, bad sizes named."""

from __future__ import annotations

from collections import Counter

import pytest

from k2core.data import load_dataset
from k2core.data.problem import Problem
from k2core.data.subsets import seeded_subset


def test_same_seed_same_problems_in_file_order() -> None:
    first = load_dataset("gsm8k_test", sample=200, seed=7)
    assert [p.id for p in first] == [p.id for p in load_dataset("gsm8k_test", sample=200, seed=7)]
    assert len(first) == 200 == len({p.id for p in first})
    positions = [int(p.id.rsplit("-", 1)[1]) for p in first]
    assert positions == sorted(positions)
    assert [p.id for p in load_dataset("gsm8k_test", sample=200, seed=8)] != [p.id for p in first]


def test_math500_subset_keeps_each_level_in_proportion() -> None:
    whole = Counter(p.meta["level"] for p in load_dataset("math500"))
    subset = Counter(p.meta["level"] for p in load_dataset("math500", sample=100, seed=0))
    assert sum(subset.values()) == 100
    for level, count in whole.items():
        assert abs(subset[level] - count / 5) < 1, (level, subset[level], count)


def test_a_sample_as_large_as_the_set_is_the_set() -> None:
    problems = [Problem(f"p-{i}", "math", "q", "1", {}) for i in range(3)]
    assert seeded_subset(problems, 10, 0) == problems


def test_bad_sizes_and_mixes_name_the_option() -> None:
    with pytest.raises(ValueError, match="sample"):
        load_dataset("gsm8k_test", sample=0)
    with pytest.raises(ValueError, match="sample"):
        load_dataset("gsm8k_test", sample=5, limit=5)
    with pytest.raises(ValueError, match="sample"):
        load_dataset("gen:arith", sample=5)
