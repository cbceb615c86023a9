"""The position-calibrated judge: the margin at the winner slot, the both-orders decision, and the fallbacks."""

from __future__ import annotations

import math
from collections.abc import Sequence

import pytest

from k2core.pipeline.judge import CALIBRATION_TOP_LOGPROBS, EngineJudge, calibrated, winner_margin
from k2core.roles import JudgeOutcome, PairOutcome
from k2core.types import Completion, Message, SamplingParams, TokenLogprob, Verdict

from .fakes import TextEngine


def steps(tokens: Sequence[str], slot: dict[str, float], at: int) -> list[TokenLogprob]:
    """Tokens with a certain top-1 everywhere except position ``at``, whose alternatives are ``slot``."""
    return [
        TokenLogprob(token=t, logprob=slot.get(t, 0.0) if i == at else 0.0, top=slot if i == at else {t: 0.0})
        for i, t in enumerate(tokens)
    ]


VERDICT_TOKENS = ['{"', "winner", '":', ' "', "A", '",', ' "', "confidence", '":', " 0.9", "}"]


def test_the_margin_is_read_where_the_winner_value_starts() -> None:
    lp = steps(VERDICT_TOKENS, {"A": -0.4, "B": -1.2, "tie": -4.0}, at=4)
    assert winner_margin(lp) == pytest.approx(0.8)


def test_alternatives_that_merge_the_quote_and_the_letter_count_for_their_letter() -> None:
    tokens = ['{"', "winner", '":', ' "A', '",', "}"]
    slot = {' "A': math.log(0.5), ' "B': math.log(0.2), ' "': math.log(0.2), ' "b': math.log(0.1)}
    assert winner_margin(steps(tokens, slot, at=3)) == pytest.approx(math.log(0.5 / 0.2))


def test_a_letter_missing_from_the_alternatives_counts_at_the_least_likely_one() -> None:
    lp = steps(VERDICT_TOKENS, {"A": -0.1, "tie": -3.0}, at=4)
    assert winner_margin(lp) == pytest.approx(2.9)


@pytest.mark.parametrize(
    "lp",
    [[], steps(['{"', "reason", '":', ' "', "x", '"}'], {"x": 0.0}, at=4), steps(VERDICT_TOKENS, {"tie": -0.1}, at=4)],
)
def test_no_margin_without_a_winner_slot_or_either_letter(lp: list[TokenLogprob]) -> None:
    assert winner_margin(lp) is None


def outcome(winner: str, margin: float | None) -> JudgeOutcome:
    return JudgeOutcome(verdict=Verdict(winner=winner, confidence=0.9, reason="r", margin=margin))  # type: ignore[arg-type]


def test_a_constant_position_preference_cancels() -> None:
    # The judge always prefers A (bias +1.0); a is truly better by 0.2 in log-odds per order.
    pair = calibrated(PairOutcome(ab=outcome("A", 1.2), ba=outcome("A", 0.8)))
    assert (pair.ab.verdict.winner, pair.ba.verdict.winner) == ("A", "B")
    assert pair.ab.verdict.confidence == pytest.approx(1 / (1 + math.exp(-0.2)))
    assert "+0.200" in pair.ab.verdict.reason and "said A then A" in pair.ab.verdict.reason
    flipped = calibrated(PairOutcome(ab=outcome("A", 0.8), ba=outcome("A", 1.2)))
    assert (flipped.ab.verdict.winner, flipped.ba.verdict.winner) == ("B", "A")
    even = calibrated(PairOutcome(ab=outcome("A", 1.0), ba=outcome("A", 1.0)))
    assert (even.ab.verdict.winner, even.ba.verdict.winner) == ("tie", "tie")


def test_a_missing_margin_leaves_the_verdicts_as_written() -> None:
    pair = PairOutcome(ab=outcome("A", 1.2), ba=outcome("A", None))
    assert calibrated(pair) == pair


class LogprobEngine(TextEngine):
    """Scripted verdict texts whose winner slot carries scripted A/B log-probabilities."""

    def __init__(self, slots: Sequence[dict[str, float]]) -> None:
        super().__init__(["{}"] * len(slots))
        self.slots = list(slots)

    async def generate(self, messages: list[Message], params: SamplingParams, n: int = 1) -> list[Completion]:
        await super().generate(messages, params, n)
        slot = self.slots.pop(0)
        winner = max(slot, key=lambda k: slot[k])
        tokens = [*VERDICT_TOKENS[:4], winner, *VERDICT_TOKENS[5:]]
        lp = steps(tokens, slot, at=4) if params.top_logprobs else None
        return [Completion(text="".join(tokens), completion_tokens=len(tokens), logprobs=lp)]


async def test_the_calibrated_judge_asks_for_logprobs_and_decides_by_both_orders() -> None:
    engine = LogprobEngine([{"A": -0.3, "B": -1.5}, {"A": -0.5, "B": -0.9}])  # A-first both times
    judge = EngineJudge(engine, calibrate=True)
    pair = await judge.compare_both("q", "first", "second")
    assert all(p.top_logprobs == CALIBRATION_TOP_LOGPROBS for p in engine.params)
    assert pair.ab.verdict.margin == pytest.approx(1.2) and pair.ba.verdict.margin == pytest.approx(0.4)
    assert (pair.ab.verdict.winner, pair.ba.verdict.winner) == ("A", "B")  # "first" wins both orders


async def test_the_plain_judge_asks_for_no_logprobs_and_keeps_its_verdicts() -> None:
    engine = LogprobEngine([{"A": -0.3, "B": -1.5}, {"A": -0.5, "B": -0.9}])
    pair = await EngineJudge(engine).compare_both("q", "first", "second")
    assert all(p.top_logprobs == 0 for p in engine.params)
    assert (pair.ab.verdict.winner, pair.ba.verdict.winner) == ("A", "A") and pair.ab.verdict.margin is None


async def test_an_engine_without_logprobs_falls_back_to_the_verdicts_as_written() -> None:
    engine = TextEngine(['{"winner": "A", "confidence": 1, "reason": "x"}'] * 2)
    pair = await EngineJudge(engine, calibrate=True).compare_both("q", "a", "b")
    assert (pair.ab.verdict.winner, pair.ba.verdict.winner) == ("A", "A") and pair.ab.verdict.margin is None
