"""Science grader: robust A–D letter extraction, last occurrence wins, strict ground truth, GPQA letters."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from k2core.data.files import FILE_DATASETS
from k2core.verify import GroundTruthError, get_grader

GRADER = get_grader("science")


@pytest.mark.parametrize(
    "response",
    [
        "Answer: C",
        "\\boxed{C}",
        "$\\boxed{\\text{C}}$",
        "So I pick (C).",
        "**C**",
        "The answer is C",
        "The correct answer is **(C)**.",
        "**Answer:** C) 10^-8 eV",
        "Eliminating the rest leaves option C",
        "A and B fail.\n\nC",
    ],
)
def test_letter_formats(response: str) -> None:
    score = GRADER.grade(response, "C")
    assert score.correct and score.extracted == "C", score


def test_last_occurrence_wins_and_explicit_answers_outrank_mentions() -> None:
    assert GRADER.extract("Answer: A. On reflection, the answer is D") == "D"
    assert GRADER.extract("(A) looks right but (B) is better") == "B"
    assert GRADER.extract("Answer: C, since (A) and (B) contradict the data") == "C"


def test_only_the_final_answer_counts() -> None:
    assert GRADER.extract("<think>Answer: A</think>The answer is B") == "B"
    assert GRADER.grade("<think>Answer: A</think>I am unsure.", "A").extracted is None


@pytest.mark.parametrize("response", ["", "Answer: Avogadro's number", "the answer is a mystery", "E) none"])
def test_no_letter_scores_zero(response: str) -> None:
    score = GRADER.grade(response, "A")
    assert score.score == 0.0 and score.extracted is None and score.reason


def test_wrong_letter_names_both() -> None:
    score = GRADER.grade("Answer: B", "D")
    assert not score.correct and "B" in score.reason and "D" in score.reason


@pytest.mark.parametrize("gold", ["", "E", "AB", "(C)", "answer C"])
def test_ground_truth_must_be_one_letter(gold: str) -> None:
    with pytest.raises(GroundTruthError):
        GRADER.grade("Answer: C", gold)


def test_same_answer() -> None:
    assert GRADER.same_answer("C", "(c)") and not GRADER.same_answer("C", "D")


def test_gpqa_letters() -> None:
    rows = FILE_DATASETS["gpqa_diamond"].rows()
    assert len(rows) == 198
    for row in rows:
        gold = row["answer"]
        wrong = "ABCD"[("ABCD".index(gold) + 1) % 4]
        assert GRADER.grade(f"<think>Maybe ({wrong})?</think>\nThe answer is ({gold}).", gold).correct
        assert not GRADER.grade(f"Answer: {wrong}", gold).correct
