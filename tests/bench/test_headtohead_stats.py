"""Head-to-head statistics: rounds averaged per problem, bootstrap and paired intervals, latency and compute ratios
to k2think, and the targets against the reference flow as figures and as text."""

from __future__ import annotations

import pytest

from bench.headtohead import report, stats
from bench.headtohead.outcome import Outcome


def _runs(correct: dict[str, list[list[bool]]], seconds: dict[str, float], tokens: dict[str, int]) -> dict[str, list[Outcome]]:
    """Outcomes per system from ``correct[round][problem]``; the second candidate is never right."""
    return {
        name: [
            Outcome(correct=ok, seconds=seconds[name], completion_tokens=tokens[name], problem_id=f"p{i}", round=r,
                    candidates_correct=[ok, False])  # fmt: skip
            for r, row in enumerate(rounds)
            for i, ok in enumerate(row)
        ]
        for name, rounds in correct.items()
    }


def test_rounds_average_per_problem_and_the_pairing_compares_the_same_problems() -> None:
    outcomes = _runs(
        {"reference": [[True, False, False, False], [True, False, True, False]],
         "k2think": [[True, True, False, False], [True, False, False, False]]},
        seconds={"reference": 10.0, "k2think": 4.0}, tokens={"reference": 1000, "k2think": 500},
    )  # fmt: skip
    rows = stats.table(outcomes)
    ref = rows["reference"]
    assert (ref["problems"], ref["runs"], ref["accuracy_per_round"]) == (4, 8, [0.25, 0.5])
    assert ref["accuracy"] == pytest.approx(0.375) and rows["k2think"]["accuracy"] == pytest.approx(0.375)
    assert ref["oracle"] == pytest.approx(0.375)
    assert ref["latency_vs_k2think"] == pytest.approx(2.5) and ref["completion_tokens_vs_k2think"] == pytest.approx(2.0)
    low, high = ref["accuracy_ci95"]
    assert 0.0 <= low <= 0.375 <= high <= 1.0
    paired = ref["paired_vs_k2think"]
    assert paired["problems"] == 4 and paired["difference"] == pytest.approx(0.0)
    assert paired["ci95"][0] < 0.0 < paired["ci95"][1]
    verdict = stats.verdict(rows)
    assert verdict is not None
    assert verdict["speedup"] == pytest.approx(2.5) and verdict["speedup_met"]
    assert verdict["token_saving"] == pytest.approx(0.5) and verdict["token_saving_met"]
    assert verdict["accuracy_met"] and not verdict["accuracy_resolved"]
    text = report.verdict_text(verdict)
    assert text is not None and "2.50× lower" in text and "50.0% fewer" in text and "holds 0" in text


def test_a_loss_the_interval_resolves_and_missed_targets_are_named() -> None:
    outcomes = _runs({"reference": [[True] * 20], "k2think": [[False] * 20]},
                     seconds={"reference": 10.0, "k2think": 8.0}, tokens={"reference": 1000, "k2think": 900})  # fmt: skip
    rows = stats.table(outcomes)
    verdict = stats.verdict(rows)
    assert verdict is not None and not (verdict["speedup_met"] or verdict["token_saving_met"] or verdict["accuracy_met"])
    text = report.verdict_text(verdict)
    assert text is not None and "k2think worse" in text and "[-100.0, -100.0]" in text and text.count("NOT met") == 3
    doc = {"workload": "w", "settings": {}, "date": "d", "systems": rows, "notes": {"optillm": "not run: x"},
           "verdict": text}  # fmt: skip
    md = report.markdown(doc)
    assert "| reference | 20 × 1 | 0 | 100.0% [100, 100] | 100.0% | +100.0 [+100.0, +100.0] | 10.0 | 1.25× | 1000 |" in md
    assert "**Targets**" in md and "- optillm: not run: x" in md


def test_errors_are_counted_apart_and_no_reference_means_no_verdict() -> None:
    rows = stats.table({"k2think": [Outcome(correct=True, seconds=2.0, problem_id="p"), Outcome(error="boom", problem_id="q")]})
    assert (rows["k2think"]["errors"], rows["k2think"]["runs"], rows["k2think"]["accuracy"]) == (1, 1, 1.0)
    assert stats.verdict(rows) is None and report.verdict_text(None) is None


def test_failed_runs_counted_as_wrong_keep_their_time_and_tokens() -> None:
    outcomes = {
        "reference": [Outcome(correct=True, seconds=10.0, completion_tokens=1000, problem_id="p"),
                      Outcome(error="JSONDecodeError: x", seconds=30.0, completion_tokens=5000, problem_id="q")],
        "k2think": [Outcome(correct=True, seconds=4.0, completion_tokens=400, problem_id="p"),
                    Outcome(correct=True, seconds=4.0, completion_tokens=400, problem_id="q")],
    }  # fmt: skip
    left_out = stats.verdict(stats.table(outcomes))
    counted = stats.verdict(stats.table(stats.failures_as_wrong(outcomes)))
    assert left_out is not None and counted is not None
    assert (left_out["speedup"], left_out["problems"], left_out["accuracy_difference"]) == (pytest.approx(2.5), 1, 0.0)
    assert (counted["speedup"], counted["problems"]) == (pytest.approx(5.0), 2)
    assert counted["token_saving"] == pytest.approx(1 - 400 / 3000)
    assert counted["accuracy_difference"] == pytest.approx(0.5)
    assert outcomes["reference"][1].error is not None  # the outcomes themselves are left as they were
