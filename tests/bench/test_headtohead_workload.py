"""The head-to-head workload: a fixed seeded subset of GSM8K, sampling seeds fresh per round, graded answers."""

from __future__ import annotations

import pytest

from bench.headtohead.outcome import graded
from bench.headtohead.workload import load_problems, sampling_seed


def test_the_subset_is_fixed_by_its_seed() -> None:
    first, again = load_problems("gsm8k_test", 100, seed=0), load_problems("gsm8k_test", 100, seed=0)
    assert [p.id for p in first] == [p.id for p in again] and len({p.id for p in first}) == 100
    assert [p.id for p in load_problems("gsm8k_test", 100, seed=1)] != [p.id for p in first]
    assert all(p.domain == "math" and p.answer for p in first)


def test_a_bad_size_names_the_option() -> None:
    with pytest.raises(ValueError, match="limit"):
        load_problems("gsm8k_test", 0, seed=0)


def test_sampling_seeds_are_fresh_per_round_and_problem() -> None:
    seeds = {sampling_seed(0, r, i) for r in range(3) for i in range(200)}
    assert len(seeds) == 600 and sampling_seed(0, 0, 5) == 5


def test_each_system_is_graded_where_its_prompt_asks_for_the_answer() -> None:
    (problem,) = load_problems("gsm8k_test", 1, seed=0)
    answer = problem.answer
    assert graded(problem, f"so \\boxed{{{answer}}}")
    assert graded(problem, f"<think>work</think> <answer>{answer}</answer>")
    assert graded(problem, f"<think>work</think> <answer>\\boxed{{{answer}}}</answer>")
    assert not graded(problem, f"<think>work</think> <answer>{answer}1</answer>")
    assert not graded(problem, None) and not graded(problem, "")
