"""Selection: extraction, grouping, both-orders rule, tiebreak order, verifier/majority/knockout methods."""

import asyncio
import itertools

import pytest

from k2core.pipeline.select import (
    JudgeFn,
    PairJudgeFn,
    break_tie,
    group_answers,
    knockout,
    pair_winner,
    select,
)
from k2core.types import Candidate, Comparison, Verdict


def cand(index: int, answer: str | None, tokens: int = 10, score: float | None = None) -> Candidate:
    return Candidate(
        index=index,
        text=f"text {index} \\boxed{{{answer}}}",
        answer=answer,
        completion_tokens=tokens,
        verifier_score=score,
    )


V = {w: Verdict(winner=w) for w in ("A", "B", "tie")}


def both_orders(judge: JudgeFn) -> PairJudgeFn:
    """A pair judge from a one-order fake: the two orders at once."""

    async def pair(a: Candidate, b: Candidate) -> tuple[Verdict, Verdict]:
        ab, ba = await asyncio.gather(judge(a, b), judge(b, a))
        return ab, ba

    return pair


def test_groups_by_equivalence_and_isolates_missing_answers() -> None:
    cands = [cand(0, "4"), cand(1, None), cand(2, " 4. "), cand(3, "5"), cand(4, None)]
    assert group_answers("logic", cands) == [[0, 2], [1], [3], [4]]


@pytest.mark.parametrize(
    ("ab", "ba", "winner"),
    [
        ("A", "B", 0),
        ("A", "tie", 0),
        ("tie", "B", 0),  # a wins one order, does not lose the other
        ("B", "A", 1),
        ("B", "tie", 1),
        ("tie", "A", 1),
        ("A", "A", None),
        ("B", "B", None),
        ("tie", "tie", None),  # position bias or no preference → tie
    ],
)
def test_both_orders_rule(ab: str, ba: str, winner: int | None) -> None:
    assert pair_winner(0, 1, V[ab], V[ba]) == winner


def test_tiebreak_order() -> None:
    sizes = {0: 1, 1: 1, 2: 2, 3: 1}
    assert break_tie(cand(0, "x", score=0.5), cand(1, "y", score=1.0), sizes) == (1, "verifier_score")
    assert break_tie(cand(0, "x"), cand(2, "y"), sizes) == (2, "group_size")
    assert break_tie(cand(0, "x", tokens=30), cand(1, "y", tokens=20), sizes) == (1, "completion_tokens")
    assert break_tie(cand(3, "x"), cand(1, "y"), sizes) == (1, "index")


async def test_majority_wins_without_judge_calls() -> None:
    calls: list[tuple[int, int]] = []

    async def judge(a: Candidate, b: Candidate) -> Verdict:
        calls.append((a.index, b.index))
        return V["A"]

    sel = await select("logic", [cand(0, "5"), cand(1, "4"), cand(2, "4", tokens=5)], both_orders(judge))
    assert (sel.method, sel.selected, calls) == ("majority", 2, [])
    assert sel.groups == [[0], [1, 2]]


async def test_half_is_not_a_strict_majority() -> None:
    async def judge(a: Candidate, b: Candidate) -> Verdict:
        return V["tie"]

    sel = await select("logic", [cand(0, "4"), cand(1, "4"), cand(2, "5"), cand(3, "6")], both_orders(judge))
    assert sel.method == "judge"


async def test_knockout_judges_every_pair_in_both_orders_and_records_all() -> None:
    calls: list[tuple[int, int]] = []
    best = 3

    async def judge(a: Candidate, b: Candidate) -> Verdict:
        calls.append((a.index, b.index))
        return V["A"] if a.index == best else V["B"] if b.index == best else V["tie"]

    seen: list[Comparison] = []
    cands = [cand(i, str(i), tokens=10 + i) for i in range(5)]
    sel = await select("logic", cands, both_orders(judge), seen.append)
    assert (sel.method, sel.selected) == ("judge", best)
    assert sel.comparisons == seen and len(seen) == 4  # 5 entrants: 2 + 1 + 1 matches
    assert len(calls) == 8
    for comp in seen:
        assert (comp.a, comp.b) in calls and (comp.b, comp.a) in calls
    assert [c.round for c in seen] == [1, 1, 2, 3]
    assert {c.winner for c in seen if best in (c.a, c.b)} == {best}


async def test_position_biased_judge_falls_to_the_tiebreak() -> None:
    async def judge(a: Candidate, b: Candidate) -> Verdict:
        return V["A"]

    sel = await select("logic", [cand(0, "1", tokens=50), cand(1, "2", tokens=20), cand(2, "3", tokens=30)], both_orders(judge))
    assert sel.selected == 1
    assert all(c.tiebreak == "completion_tokens" for c in sel.comparisons)


async def test_knockout_seeds_larger_groups_first_and_byes_the_top_seed() -> None:
    order: list[tuple[int, int]] = []

    async def judge(a: Candidate, b: Candidate) -> Verdict:
        order.append((a.index, b.index))
        return V["tie"]

    sizes = {0: 1, 1: 1, 2: 2}
    winner, comps = await knockout([cand(0, "x"), cand(1, "y"), cand(2, "z")], sizes, both_orders(judge), lambda _: None)
    assert (comps[0].a, comps[0].b) == (0, 1) and comps[1].a == 2
    assert winner == 2 and comps[1].tiebreak == "group_size"


async def test_verifier_passers_beat_failers_before_any_judge() -> None:
    async def judge(a: Candidate, b: Candidate) -> Verdict:
        raise AssertionError("no judge call expected")

    sel = await select("code", [cand(0, "p", score=0.0), cand(1, "q", score=1.0), cand(2, "r", score=0.5)], both_orders(judge))
    assert (sel.method, sel.selected) == ("verifier", 1)


async def test_verifier_narrows_then_judge_decides_among_passers() -> None:
    calls: list[tuple[int, int]] = []

    async def judge(a: Candidate, b: Candidate) -> Verdict:
        calls.append((a.index, b.index))
        return V["A"] if a.index == 2 else V["B"]

    cands = [cand(0, "p", score=0.0), cand(1, "q", score=1.0), cand(2, "r", score=1.0)]
    sel = await select("code", cands, both_orders(judge))
    assert (sel.method, sel.selected) == ("judge", 2)
    assert set(itertools.chain(*calls)) == {1, 2}
    assert "verifier" in sel.reason


async def test_without_judge_the_tiebreak_picks() -> None:
    sel = await select("logic", [cand(0, "1", tokens=40), cand(1, "2", tokens=9), cand(2, "3", tokens=20)], None)
    assert (sel.method, sel.selected) == ("first", 1)
    assert "completion_tokens" in sel.reason


async def test_candidates_without_a_final_answer_are_left_out_before_the_tiebreak() -> None:
    sel = await select("logic", [cand(0, "1", tokens=40), cand(1, "2", tokens=9), cand(2, None, tokens=1)], None)
    assert (sel.method, sel.selected) == ("first", 1)
    assert "1 of 3 candidates without a final answer left out" in sel.reason


async def test_the_only_answered_candidate_wins_without_judge_calls() -> None:
    calls = []

    async def judge(a, b):  # noqa: ANN001, ANN202 - a JudgeFn that must not be called
        calls.append((a.index, b.index))
        return Verdict(winner="A")

    sel = await select("math", [cand(0, None), cand(1, "7"), cand(2, None)], both_orders(judge))
    assert (sel.method, sel.selected, calls) == ("answered", 1, [])


async def test_single_candidate() -> None:
    sel = await select("math", [cand(0, "1")], None)
    assert (sel.method, sel.selected) == ("single", 0)


async def test_missing_answers_never_form_a_majority() -> None:
    sel = await select("logic", [cand(0, None), cand(1, None), cand(2, "3", tokens=99), cand(3, "4", tokens=5)], None)
    assert (sel.method, sel.selected) == ("first", 3)
    everyone_silent = await select("logic", [cand(0, None), cand(1, None), cand(2, None)], None)
    assert everyone_silent.method == "first"


async def test_math_answers_group_by_equivalence() -> None:
    cands = [cand(0, "\\frac{1}{2}"), cand(1, "3"), cand(2, "0.5")]
    assert group_answers("math", cands) == [[0, 2], [1]]
    sel = await select("math", cands, None)
    assert (sel.method, sel.selected) == ("majority", 0)


def margins(ab: float, ba: float) -> tuple[Verdict, Verdict]:
    return Verdict(winner="A", margin=ab), Verdict(winner="A", margin=ba)


@pytest.mark.parametrize(
    ("ab", "ba", "sizes", "winner", "tiebreak"),
    [
        (1.2, 0.8, {0: 1, 1: 1}, 0, None),  # equal groups: the judge's calibrated log-odds (+0.2) decide
        (0.8, 1.2, {0: 1, 1: 1}, 1, None),
        (1.2, 0.8, {0: 1, 1: 2}, 1, "group_size"),  # +0.2 does not outweigh log 2 for the larger group
        (4.0, 0.0, {0: 1, 1: 2}, 0, None),  # a confident judge does
        (1.0, 1.0, {0: 2, 1: 1}, 0, None),  # no preference: plurality
        (1.0, 1.0, {0: 1, 1: 1}, None, None),  # no evidence either way: the tiebreak decides
    ],
)
def test_a_calibrated_pair_weighs_the_judge_against_plurality(
    ab: float, ba: float, sizes: dict[int, int], winner: int | None, tiebreak: str | None
) -> None:
    from k2core.pipeline.select import calibrated_winner

    assert calibrated_winner(0, 1, *margins(ab, ba), sizes) == (winner, tiebreak)


async def test_select_uses_margins_when_the_judge_reports_them() -> None:
    async def pair(a: Candidate, b: Candidate) -> tuple[Verdict, Verdict]:
        strong = 0.3 if a.answer == "5" else -0.3  # a small calibrated preference for "5" in both orders
        return margins(1.0 + strong, 1.0 - strong)

    cands = [cand(0, "4"), cand(1, "4"), cand(2, "5"), cand(3, "6")]  # 2-1-1: no strict majority
    sel = await select("logic", cands, pair)
    assert sel.method == "judge" and sel.selected == 0  # +0.3 for "5" loses to log 2 for the pair of "4"
    even = await select("logic", [cand(0, "4"), cand(1, "5"), cand(2, "6")], pair)
    assert even.selected == 1  # equal groups: the judge decides
    assert all(c.tiebreak is None for c in even.comparisons)
