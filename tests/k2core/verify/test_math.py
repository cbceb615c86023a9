"""Math grader: math-verify equivalence, answer extraction, real gold answers, guards and threads."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from k2core.data.files import FILE_DATASETS
from k2core.verify import GroundTruthError, get_grader

GRADER = get_grader("math")


def _answers(name: str) -> list[str]:
    return [str(row["answer"]) for row in FILE_DATASETS[name].rows()]


@pytest.mark.parametrize(
    ("gold", "answer"),
    [
        ("27.0", "27"),
        ("\\frac{1}{2}", "0.5"),
        ("\\left( 3, \\frac{\\pi}{2} \\right)", "(3, \\pi/2)"),
        ("3\\sqrt{2}", "\\sqrt{18}"),
        ("[-2, 7)", "[-2,7)"),
        ("18", "18 dollars"),
        ("1234", "1,234"),
        ("25", "25\\%"),
        ("25", "25 %"),
        ("10\\%", "10"),
    ],
)
def test_equivalent_spellings(gold: str, answer: str) -> None:
    score = GRADER.grade(f"\\boxed{{{answer}}}", gold)
    assert score.correct and score.score == 1.0, score
    assert GRADER.same_answer(gold, answer) and GRADER.same_answer(answer, gold)


@pytest.mark.parametrize(
    ("response", "extracted"),
    [
        ("We get $x=3$, so the answer is $\\boxed{\\frac{1}{2}}$.", "\\frac{1}{2}"),
        ("First \\boxed{7}, then corrected: \\boxed{\\frac{1}{2}}", "\\frac{1}{2}"),
        ("Natalia sold 48 clips...\n#### 72", "72"),
        ("Working...\nAnswer: $\\frac{1}{2}$.", "\\frac{1}{2}"),
        ("**Final Answer:** 0.5", "0.5"),
        ("Thus the answer is 0.5.", "0.5"),
        ("<think>maybe \\boxed{3}</think>\n$0.5$", "0.5"),
    ],
)
def test_extraction(response: str, extracted: str) -> None:
    assert GRADER.extract(response) == extracted


def test_a_percent_sign_is_not_a_fraction() -> None:
    """``25\\%`` reads as 25 (the number the question asks for), never as 0.25."""
    assert not GRADER.grade("\\boxed{25\\%}", "0.25").correct
    assert not GRADER.grade("\\boxed{25\\%}", "26").correct
    assert GRADER.extract("So he covered 60% of it.\nAnswer: 60%") == "60"


def test_only_the_text_after_think_is_graded() -> None:
    assert not GRADER.grade("<think>\\boxed{5}</think>The answer is 6", "5").correct
    score = GRADER.grade("<think>the answer is \\boxed{5}</think>", "5")
    assert score.score == 0.0 and score.extracted is None and score.reason


@pytest.mark.parametrize("response", ["", "I do not know.", "<think>\\boxed{4}</think>Let me think more"])
def test_no_answer_scores_zero_without_raising(response: str) -> None:
    score = GRADER.grade(response, "4")
    assert score.score == 0.0 and not score.correct and score.extracted is None and "no" in score.reason


@pytest.mark.parametrize("gold", ["", "   ", "}{"])
def test_unparsable_ground_truth_raises(gold: str) -> None:
    with pytest.raises(GroundTruthError):
        GRADER.grade("\\boxed{1}", gold)


def test_gsm8k_worked_solution_as_ground_truth() -> None:
    assert GRADER.grade("The answer is 1,080.", "She earns 10*108 = 1,080 dollars.\n#### 1,080").correct


@pytest.mark.parametrize(
    "answer", ["9^{9^{9^{9}}}", "9^{387420489}", "2^2^2^2^2", "1000000!", "1" * 2000, "\\frac{" * 400]
)
def test_pathological_answers_return_quickly_on_any_thread(answer: str) -> None:
    started = time.monotonic()
    assert not GRADER.grade(f"\\boxed{{{answer}}}", "5").correct
    with ThreadPoolExecutor(1) as pool:
        assert not pool.submit(GRADER.grade, f"\\boxed{{{answer}}}", "5").result().correct
    assert time.monotonic() - started < 10


def test_grading_works_off_the_main_thread() -> None:
    with ThreadPoolExecutor(4) as pool:
        scores = list(pool.map(lambda r: GRADER.grade(r, "\\frac{1}{2}"), ["\\boxed{0.5}", "\\boxed{1/2}"] * 4))
    assert all(s.correct for s in scores)


@pytest.mark.parametrize("dataset", ["aime24", "aime25", "amc23", "math500"])
def test_real_gold_answers_verify_in_several_spellings(dataset: str) -> None:
    failures = []
    for gold in _answers(dataset):
        for response in (
            f"\\boxed{{{gold}}}",
            f"<think>Let me compute. Maybe \\boxed{{0}}?</think>\nThe answer is ${gold}$.",
            f"<think>ok</think>\nFinal answer: $\\boxed{{{gold}}}$",
            f"Answer: {gold}",
        ):
            if not GRADER.grade(response, gold).correct:
                failures.append((gold, response))
    assert not failures, failures[:5]


@pytest.mark.parametrize("dataset", ["aime24", "aime25", "amc23", "math500"])
def test_real_gold_answers_fail_against_a_neighbour(dataset: str) -> None:
    answers = _answers(dataset)
    failures = []
    for i, gold in enumerate(answers):
        neighbour = next(
            a
            for a in (answers[(i + k) % len(answers)] for k in range(1, len(answers)))
            if not GRADER.same_answer(a, gold)
        )
        if GRADER.grade(f"The answer is $\\boxed{{{neighbour}}}$", gold).correct:
            failures.append((gold, neighbour))
    assert not failures, failures[:5]
