"""Pure metric functions of the paper's protocol: avg pass@1, unbiased pass@k, maj@k, gap closed, means, and
bootstrap confidence intervals for accuracies and paired accuracy differences."""

from __future__ import annotations

import operator
import random
from collections.abc import Callable, Sequence
from statistics import fmean

SameFn = Callable[[str, str], bool]


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k from ``n`` samples with ``c`` correct (Chen et al. 2021): ``1 - C(n-c, k) / C(n, k)``."""
    if not 0 <= c <= n or not 1 <= k <= n:
        raise ValueError(f"need 0 <= c <= n and 1 <= k <= n, got n={n}, c={c}, k={k}")
    if n - c < k:
        return 1.0
    numerator, denominator = 1, 1
    for i in range(k):
        numerator *= n - c - i
        denominator *= n - i
    return 1.0 - numerator / denominator


def mean_pass_at_k(outcomes: Sequence[Sequence[bool]], k: int) -> float:
    """pass@k averaged over problems; ``outcomes[p]`` holds the correctness of problem p's samples."""
    return fmean(pass_at_k(len(runs), sum(runs), k) for runs in outcomes) if outcomes else 0.0


def avg_pass_at_1(outcomes: Sequence[Sequence[bool]]) -> float:
    """The paper's headline: the average over problems of the share of correct runs (avg of k pass@1)."""
    return mean_pass_at_k(outcomes, 1)


def majority_vote(answers: Sequence[str | None], correct: Sequence[bool], same: SameFn = operator.eq) -> float:
    """Credit of a majority vote over one problem's answers, in [0, 1].

    Answers that are None do not vote; correct answers count as one answer whatever their text. Tie rule:
    when several answers share the most votes the credit is the share of them that are correct, the expected
    score of breaking the tie uniformly at random (so a 1-1 split between right and wrong scores 0.5).
    """
    groups: list[tuple[str, bool, int]] = []
    for answer, ok in zip(answers, correct):
        if answer is None:
            continue
        home = next((i for i, (text, good, _) in enumerate(groups) if good == ok and (ok or same(text, answer))), None)
        if home is None:
            groups.append((answer, ok, 1))
        else:
            text, good, votes = groups[home]
            groups[home] = (text, good, votes + 1)
    if not groups:
        return 0.0
    top = max(votes for _, _, votes in groups)
    leaders = [good for _, good, votes in groups if votes == top]
    return sum(leaders) / len(leaders)


def maj_at_k(
    answers: Sequence[Sequence[str | None]], correct: Sequence[Sequence[bool]], same: SameFn = operator.eq
) -> float:
    """maj@k averaged over problems: the majority vote of each problem's k answers (tie rule in ``majority_vote``)."""
    credits = [majority_vote(a, c, same) for a, c in zip(answers, correct, strict=True)]
    return fmean(credits) if credits else 0.0


def oracle(correct: Sequence[Sequence[bool]]) -> float:
    """Share of problems with at least one correct sample (pass@N of a perfect selector)."""
    return fmean(any(runs) for runs in correct) if correct else 0.0


def gap_closed(score: float, base: float, ceiling: float) -> float | None:
    """Share of the ``base`` → ``ceiling`` gap that ``score`` closes; None when there is no gap."""
    return None if ceiling <= base else (score - base) / (ceiling - base)


def k_values(k: int) -> list[int]:
    """The pass@k points reported for ``k`` samples: powers of two below ``k``, and ``k`` itself."""
    points = {1 << i for i in range(k.bit_length()) if 1 << i < k}
    return sorted(points | {k})


def mean_or_zero(values: Sequence[float]) -> float:
    """The mean, or 0.0 for no values."""
    return fmean(values) if values else 0.0


def bootstrap_ci(
    values: Sequence[float], level: float = 0.95, resamples: int = 4000, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of ``values`` (one value per problem), reproducible by ``seed``.

    Resampling problems, not runs, keeps the spread honest when each problem was run several times: average a
    problem's runs into its one value first. Paired differences are the same call on per-problem differences."""
    if not values:
        raise ValueError("need at least one value")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must lie in (0, 1), got {level}")
    rng = random.Random(seed)
    size = len(values)
    return _percentile_interval([fmean(rng.choices(values, k=size)) for _ in range(resamples)], level)


def bootstrap_gap_ci(
    score: Sequence[float],
    base: Sequence[float],
    ceiling: Sequence[float],
    level: float = 0.95,
    resamples: int = 4000,
    seed: int = 0,
) -> tuple[float, float] | None:
    """Percentile bootstrap interval of ``gap_closed`` over problems, resampled jointly (one index set for the three
    per-problem series); resamples without a gap are skipped, None when fewer than half have one."""
    if not (len(score) == len(base) == len(ceiling)) or not score:
        raise ValueError("gap interval needs three non-empty series over the same problems")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must lie in (0, 1), got {level}")
    rng = random.Random(seed)
    size, shares = len(score), []
    for _ in range(resamples):
        rows = rng.choices(range(size), k=size)
        share = gap_closed(*(fmean(series[i] for i in rows) for series in (score, base, ceiling)))
        if share is not None:
            shares.append(share)
    return None if 2 * len(shares) < resamples else _percentile_interval(shares, level)


def _percentile_interval(estimates: list[float], level: float) -> tuple[float, float]:
    """The central ``level`` interval of bootstrap estimates (sorted here)."""
    estimates = sorted(estimates)
    tail = (1.0 - level) / 2.0
    return estimates[int(tail * (len(estimates) - 1))], estimates[int(round((1.0 - tail) * (len(estimates) - 1)))]


def paired_differences(a: Sequence[float], b: Sequence[float]) -> list[float]:
    """Per-problem ``a - b`` of two systems scored on the same problems in the same order."""
    if len(a) != len(b):
        raise ValueError(f"paired scores need the same problems: {len(a)} vs {len(b)}")
    return [x - y for x, y in zip(a, b)]
