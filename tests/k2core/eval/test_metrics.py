"""Metric functions on known inputs: unbiased pass@k against brute force, maj@k ties, gap closed."""

from __future__ import annotations

import itertools

import pytest

from k2core.eval import metrics


def brute_pass_at_k(n: int, c: int, k: int) -> float:
    """Share of the k-subsets of n samples (the first c correct) holding at least one correct sample."""
    subsets = list(itertools.combinations(range(n), k))
    return sum(any(i < c for i in s) for s in subsets) / len(subsets)


@pytest.mark.parametrize("n", range(1, 9))
def test_pass_at_k_matches_enumeration(n: int) -> None:
    for c in range(n + 1):
        for k in range(1, n + 1):
            assert metrics.pass_at_k(n, c, k) == pytest.approx(brute_pass_at_k(n, c, k), abs=1e-12)


def test_pass_at_1_is_share_correct_and_bounds_are_checked() -> None:
    assert metrics.pass_at_k(16, 4, 1) == pytest.approx(0.25)
    assert metrics.avg_pass_at_1([[True, False], [False, False], [True, True]]) == pytest.approx(0.5)
    with pytest.raises(ValueError):
        metrics.pass_at_k(3, 1, 4)
    with pytest.raises(ValueError):
        metrics.pass_at_k(3, 4, 1)


def test_mean_pass_at_k_averages_problems() -> None:
    outcomes = [[True, False, False], [False, False, False]]
    assert metrics.mean_pass_at_k(outcomes, 2) == pytest.approx((1 - 1 / 3) / 2)


def test_majority_vote_clear_winner_and_no_votes() -> None:
    assert metrics.majority_vote(["4", "4", "5"], [True, True, False]) == 1.0
    assert metrics.majority_vote(["5", "5", "4"], [False, False, True]) == 0.0
    assert metrics.majority_vote([None, None], [False, False]) == 0.0
    assert metrics.majority_vote([None, None, "4"], [False, False, True]) == 1.0


def test_majority_vote_ties_score_the_share_of_correct_leaders() -> None:
    assert metrics.majority_vote(["4", "5"], [True, False]) == 0.5
    assert metrics.majority_vote(["4", "5", "6"], [True, False, False]) == pytest.approx(1 / 3)
    assert metrics.majority_vote(["4", "4", "5", "5", "6"], [True, True, False, False, False]) == 0.5


def test_majority_vote_groups_correct_answers_and_uses_equivalence() -> None:
    # "4" and "4.0" are both graded correct: one group of two beats the pair of "5"s? no: 2 vs 2 -> tie.
    assert metrics.majority_vote(["4", "4.0", "5", "5"], [True, True, False, False]) == 0.5
    assert metrics.majority_vote(["4", "4.0", "5"], [True, True, False]) == 1.0
    same = lambda a, b: a.lower() == b.lower()  # noqa: E731
    assert metrics.majority_vote(["X", "x", "4"], [False, False, True], same) == 0.0
    assert metrics.majority_vote(["X", "x", "4"], [False, False, True]) == pytest.approx(1 / 3)


def test_maj_at_k_oracle_and_gap() -> None:
    answers = [["4", "4", "5"], ["7", "8", "8"]]
    correct = [[True, True, False], [True, False, False]]
    assert metrics.maj_at_k(answers, correct) == 0.5
    assert metrics.oracle(correct) == 1.0
    assert metrics.gap_closed(0.75, 0.5, 1.0) == 0.5
    assert metrics.gap_closed(0.5, 0.5, 0.5) is None


def test_k_values() -> None:
    assert metrics.k_values(1) == [1]
    assert metrics.k_values(4) == [1, 2, 4]
    assert metrics.k_values(16) == [1, 2, 4, 8, 16]
    assert metrics.k_values(5) == [1, 2, 4, 5]


def test_bootstrap_ci_of_constant_values_is_that_value() -> None:
    assert metrics.bootstrap_ci([0.5] * 12) == (0.5, 0.5)


def test_bootstrap_ci_brackets_the_mean_narrows_with_more_problems_and_is_reproducible() -> None:
    few = [1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0]
    low, high = metrics.bootstrap_ci(few)
    assert low < 0.3 < high and 0.0 <= low and high <= 1.0
    assert metrics.bootstrap_ci(few, seed=7) == metrics.bootstrap_ci(few, seed=7)
    wide = high - low
    low10, high10 = metrics.bootstrap_ci(few * 10)
    assert low10 < 0.3 < high10 and high10 - low10 < wide / 2
    # A 95% interval of 0/1 scores with p=0.3 over 100 problems: about ±0.09 (normal approximation 1.96·√(.21/100)).
    assert 0.15 < high10 - low10 < 0.22


def test_bootstrap_ci_rejects_no_values_and_bad_levels() -> None:
    with pytest.raises(ValueError, match="at least one"):
        metrics.bootstrap_ci([])
    with pytest.raises(ValueError, match="level"):
        metrics.bootstrap_ci([1.0], level=1.0)


def test_paired_differences_need_the_same_problems() -> None:
    assert metrics.paired_differences([1.0, 0.5], [0.0, 0.5]) == [1.0, 0.0]
    assert metrics.bootstrap_ci(metrics.paired_differences([1.0, 0.0], [1.0, 0.0])) == (0.0, 0.0)
    with pytest.raises(ValueError, match="same problems"):
        metrics.paired_differences([1.0], [1.0, 0.0])


def test_bootstrap_gap_ci_brackets_the_share_and_is_reproducible() -> None:
    base = [0.25, 0.0, 0.5, 0.25] * 10
    ceiling = [1.0, 0.0, 1.0, 1.0] * 10
    score = [1.0, 0.0, 0.0, 1.0] * 10
    share = metrics.gap_closed(0.5, 0.25, 0.75)
    low, high = metrics.bootstrap_gap_ci(score, base, ceiling)
    assert low <= share <= high and low < high
    assert metrics.bootstrap_gap_ci(score, base, ceiling, seed=3) == metrics.bootstrap_gap_ci(
        score, base, ceiling, seed=3
    )
    assert metrics.bootstrap_gap_ci(ceiling, base, ceiling) == (1.0, 1.0)


def test_bootstrap_gap_ci_without_a_gap_is_none_and_mismatched_series_are_rejected() -> None:
    assert metrics.bootstrap_gap_ci([0.5] * 4, [0.5] * 4, [0.5] * 4) is None
    with pytest.raises(ValueError, match="same problems"):
        metrics.bootstrap_gap_ci([1.0], [0.5, 0.5], [1.0])
