"""Tabular grader: numbers within the ground truth's tolerance, text answers after normalisation."""

import json

import pytest

from k2core.verify import GroundTruthError, get_grader, grade

# Long, unbalanced or repetitive model output must be graded quickly (no quadratic scans, no hang).
ADVERSARIAL = ["\\boxed{" * 30_000, "```\n" * 30_000, "Alice Bob " * 30_000, "Answer:\n" * 30_000, "1," * 100_000]

NUMBER = json.dumps({"kind": "table_qa", "answer": 1234, "tolerance": 0})
AVERAGE = json.dumps({"kind": "table_qa", "answer": 41.67, "tolerance": 0.01})
TEXT = json.dumps({"kind": "table_qa", "answer": "Harbor City"})


@pytest.mark.parametrize(
    "response",
    [
        "\\boxed{1234}",
        "\\boxed{1,234}",
        "<think>maybe 1200</think>Answer: $1,234",
        "The total is 1234 parks.\n\n**Answer: 1234**",
        "\\boxed{1234.0}",
        "so 1200 + 34 =\n1234",
    ],
)
def test_number_formats(response: str) -> None:
    assert grade("tabular", response, NUMBER).correct


@pytest.mark.parametrize(("response", "correct"), [("\\boxed{41.67}", True), ("\\boxed{41.666}", True),
                                                   ("\\boxed{41.7}", False), ("\\boxed{42}", False)])  # fmt: skip
def test_tolerance(response: str, correct: bool) -> None:
    assert grade("tabular", response, AVERAGE).correct is correct


@pytest.mark.parametrize(
    ("response", "correct"),
    [
        ("\\boxed{Harbor City}", True),
        ("\\boxed{\\text{harbor city}}", True),
        ("Answer: The Harbor City.", True),
        ("Answer: Harbor City has the most parks", True),
        ("\\boxed{Harbor}", False),
        ("\\boxed{Lakeside}", False),
        ("Answer: it is not Harbor City but rather Lakeside, which has the most parks overall", False),
    ],
)
def test_text_answers(response: str, correct: bool) -> None:
    assert grade("tabular", response, TEXT).correct is correct


def test_no_number_is_no_answer() -> None:
    score = grade("tabular", "\\boxed{many}", NUMBER)
    assert score.score == 0.0 and "no number" in score.reason
    assert grade("tabular", "", NUMBER).extracted is None


@pytest.mark.parametrize(
    "truth",
    [
        "{",
        json.dumps({"kind": "table_qa"}),
        json.dumps({"kind": "table_qa", "answer": True}),
        json.dumps({"kind": "table_qa", "answer": [1]}),
        json.dumps({"kind": "table_qa", "answer": 3, "tolerance": -1}),
        json.dumps({"kind": "table_qa", "answer": 3, "tolerance": "big"}),
        json.dumps({"kind": "countdown", "answer": 3}),
    ],
)
def test_bad_ground_truth_raises(truth: str) -> None:
    with pytest.raises(GroundTruthError):
        grade("tabular", "\\boxed{3}", truth)


@pytest.mark.parametrize("response", ["\\boxed{", "-", "Answer: ,,,", "1e999999", "x" * 100_000, *ADVERSARIAL])
def test_bad_responses_never_raise(response: str) -> None:
    for truth in (NUMBER, TEXT):
        assert grade("tabular", response, truth).score == 0.0


def test_extract_and_same_answer() -> None:
    grader = get_grader("tabular")
    assert grader.extract("<think>no</think>\\boxed{\\text{Sales}}") == "Sales"
    assert grader.same_answer("1,234", "1234.0")
    assert grader.same_answer("The Sales", "sales")
    assert not grader.same_answer("12", "13")
    assert not grader.same_answer("12 apples", "12 pears")
