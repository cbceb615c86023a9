"""Selection among candidates: verifier first, answered candidates only, then a strict majority, then a knockout
judged in both orders."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable, Sequence

from k2core import verify
from k2core.types import Candidate, Comparison, Selection, Verdict

JudgeFn = Callable[[Candidate, Candidate], Awaitable[Verdict]]  # one order: ``a`` shown first
PairJudgeFn = Callable[[Candidate, Candidate], Awaitable[tuple[Verdict, Verdict]]]  # both orders: (ab, ba)
OnComparison = Callable[[Comparison], None]

TIEBREAKS = ("verifier_score", "group_size", "completion_tokens", "index")


def same_answer(domain: str, a: str, b: str) -> bool:
    """Equivalence by the domain's grader; normalised text equality when the grader cannot say."""
    try:
        return verify.same_answer(domain, a, b)
    except Exception:  # model output must never fail a request
        return normalise(a) == normalise(b)


def judged_text(candidate: Candidate) -> str:
    """What the judge sees of a candidate: its final segment (after any ``</think>``), stripped."""
    return verify.final_segment(candidate.text).strip()


def normalise(text: str) -> str:
    """Lower-case, whitespace-collapsed text without surrounding punctuation or ``$``."""
    return " ".join(text.strip().strip("$.").split()).lower()


def group_answers(domain: str, candidates: Sequence[Candidate]) -> list[list[int]]:
    """Candidate indices grouped by equivalent answers; a candidate without an answer stands alone."""
    groups: list[list[Candidate]] = []
    for cand in candidates:
        home = None
        if cand.answer is not None:
            home = next(
                (g for g in groups if g[0].answer is not None and same_answer(domain, g[0].answer, cand.answer)), None
            )
        if home is None:
            groups.append([cand])
        else:
            home.append(cand)
    return [[c.index for c in g] for g in groups]


def tiebreak_key(cand: Candidate, group_size: int) -> tuple[float, int, int, int]:
    """Sort key, best first: higher verifier score, larger group, fewer completion tokens, lower index."""
    return (-(cand.verifier_score or 0.0), -group_size, cand.completion_tokens, cand.index)


def break_tie(a: Candidate, b: Candidate, sizes: dict[int, int]) -> tuple[int, str]:
    """The better of two candidates by the tiebreak order, and which criterion decided."""
    key_a, key_b = tiebreak_key(a, sizes[a.index]), tiebreak_key(b, sizes[b.index])
    for name, x, y in zip(TIEBREAKS, key_a, key_b, strict=True):
        if x != y:
            return (a.index if x < y else b.index), name
    return a.index, "index"


def pair_winner(a: int, b: int, ab: Verdict, ba: Verdict) -> int | None:
    """Both-orders rule: a candidate wins if it wins one order and does not lose the other; else None (tie)."""
    a_results = (ab.winner == "A", ba.winner == "B")
    b_results = (ab.winner == "B", ba.winner == "A")
    if any(a_results) and not any(b_results):
        return a
    if any(b_results) and not any(a_results):
        return b
    return None


def calibrated_log_odds(ab: Verdict, ba: Verdict) -> float | None:
    """The judge's log-odds for the answer shown first in ``ab``, with its position bias cancelled: half of
    ``m_ab - m_ba`` (a constant preference for one position adds to both margins). None without both margins."""
    if ab.margin is None or ba.margin is None:
        return None
    return (ab.margin - ba.margin) / 2


def calibrated_winner(a: int, b: int, ab: Verdict, ba: Verdict, sizes: dict[int, int]) -> tuple[int | None, str | None]:
    """A pair decided by margins (both verdicts carry one: a position-calibrated judge): the judge's log-odds for
    ``a`` (half of ``m_ab - m_ba``) plus the log ratio of the two answers' group sizes, plurality being the prior a
    weak judge must outweigh. Returns the winner (None on exactly even evidence) and ``group_size`` when the prior
    overturned the judge's own preference."""
    judged = calibrated_log_odds(ab, ba)
    assert judged is not None
    evidence = judged + math.log(sizes[a] / sizes[b])
    if evidence == 0:
        return None, None
    winner = a if evidence > 0 else b
    overturned = judged != 0 and (judged > 0) != (evidence > 0)
    return winner, "group_size" if overturned else None


async def judge_pair(
    a: Candidate, b: Candidate, round_no: int, sizes: dict[int, int], judge: PairJudgeFn
) -> Comparison:
    """Judge ``a`` vs ``b`` in both orders (by margins and group sizes when the judge reports margins); a tie goes
    to the tiebreak."""
    ab, ba = await judge(a, b)
    if calibrated_log_odds(ab, ba) is not None:
        winner, tiebreak = calibrated_winner(a.index, b.index, ab, ba, sizes)
    else:
        winner, tiebreak = pair_winner(a.index, b.index, ab, ba), None
    if winner is None:
        winner, tiebreak = break_tie(a, b, sizes)
    return Comparison(
        round=round_no, a=a.index, b=b.index, verdict_ab=ab, verdict_ba=ba, winner=winner, tiebreak=tiebreak
    )


async def knockout(
    entrants: Sequence[Candidate], sizes: dict[int, int], judge: PairJudgeFn, on_comparison: OnComparison
) -> tuple[int, list[Comparison]]:
    """Single elimination among ``entrants`` (seeded best first; the top seed takes any bye), rounds in parallel."""
    by_index = {c.index: c for c in entrants}
    alive = sorted(entrants, key=lambda c: tiebreak_key(c, sizes[c.index]))
    comparisons: list[Comparison] = []
    round_no = 0
    while len(alive) > 1:
        round_no += 1
        bye, rest = (alive[:1], alive[1:]) if len(alive) % 2 else ([], alive)

        async def play(a: Candidate, b: Candidate, r: int = round_no) -> Comparison:
            comparison = await judge_pair(a, b, r, sizes, judge)
            on_comparison(comparison)
            return comparison

        played = await asyncio.gather(*(play(rest[i], rest[i + 1]) for i in range(0, len(rest), 2)))
        comparisons.extend(played)
        alive = bye + [by_index[c.winner] for c in played if c.winner is not None]
    return alive[0].index, comparisons


async def select(
    domain: str,
    candidates: Sequence[Candidate],
    judge: PairJudgeFn | None,
    on_comparison: OnComparison = lambda _: None,
) -> Selection:
    """Choose one candidate: verifier filter, candidates with a final answer, strict majority, then knockout (or the
    tiebreak without a judge)."""
    groups = group_answers(domain, candidates)
    if len(candidates) == 1:
        return Selection(method="single", selected=candidates[0].index, groups=groups, reason="one candidate")
    pool, notes = _verifier_pool(candidates)
    if len(pool) == 1:
        return Selection(method="verifier", selected=pool[0].index, groups=groups, reason=notes)
    answered = [c for c in pool if c.answer is not None]
    if answered and len(answered) < len(pool):
        notes = _join(notes, f"{len(pool) - len(answered)} of {len(pool)} candidates without a final answer left out")
        pool = answered
        if len(pool) == 1:
            return Selection(method="answered", selected=pool[0].index, groups=groups, reason=notes)
    pool_ids = {c.index for c in pool}
    pool_groups = [[i for i in g if i in pool_ids] for g in groups]
    pool_groups = [g for g in pool_groups if g]
    sizes = {i: len(g) for g in pool_groups for i in g}
    by_index = {c.index: c for c in pool}
    reps = [min((by_index[i] for i in g), key=lambda c: tiebreak_key(c, sizes[c.index])) for g in pool_groups]
    top = max(pool_groups, key=len)
    if by_index[top[0]].answer is not None and 2 * len(top) > len(pool):
        rep = next(r for r in reps if r.index in top)
        reason = _join(notes, f"{len(top)} of {len(pool)} candidates agree")
        return Selection(method="majority", selected=rep.index, groups=groups, reason=reason)
    if judge is None:
        best = min(reps, key=lambda c: tiebreak_key(c, sizes[c.index]))
        decided = _deciding_tiebreak(best, reps, sizes)
        reason = _join(notes, f"no majority and no judge; tiebreak by {decided}")
        return Selection(method="first", selected=best.index, groups=groups, reason=reason)
    winner, comparisons = await knockout(reps, sizes, judge, on_comparison)
    reason = _join(notes, f"knockout among {len(reps)} answer groups")
    return Selection(method="judge", selected=winner, groups=groups, comparisons=comparisons, reason=reason)


def _verifier_pool(candidates: Sequence[Candidate]) -> tuple[list[Candidate], str]:
    """The candidates with the best verifier score, when scores tell candidates apart."""
    scores = [c.verifier_score for c in candidates if c.verifier_score is not None]
    if not scores or (max(scores) == min(scores) and len(scores) == len(candidates)):
        return list(candidates), ""
    best = max(scores)
    pool = [c for c in candidates if c.verifier_score == best]
    return pool, f"{len(pool)} of {len(candidates)} candidates have the best verifier score {best:g}"


def _deciding_tiebreak(best: Candidate, reps: Sequence[Candidate], sizes: dict[int, int]) -> str:
    """The first tiebreak criterion that separates ``best`` from the runner-up."""
    others = sorted((r for r in reps if r.index != best.index), key=lambda c: tiebreak_key(c, sizes[c.index]))
    return break_tie(best, others[0], sizes)[1] if others else "index"


def _join(*parts: str) -> str:
    """Non-empty reason parts joined."""
    return "; ".join(p for p in parts if p)
