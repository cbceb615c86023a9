"""Logic grader: knights-and-knaves roles and orderings, tolerant extraction, strict ground truth."""

import json

import pytest

from k2core.data import generate
from k2core.verify import GroundTruthError, get_grader, grade

# Long, unbalanced or repetitive model output must be graded quickly (no quadratic scans, no hang).
ADVERSARIAL = ["\\boxed{" * 30_000, "```\n" * 30_000, "Alice Bob " * 30_000, "Answer:\n" * 30_000, "1," * 100_000]

KK = json.dumps({"kind": "knights_knaves", "answer": {"Alice": "knight", "Bob": "knave", "Carol": "knight"}})
ORDER = json.dumps({"kind": "ordering", "answer": ["Carol", "Alice", "Bob"]})


@pytest.mark.parametrize(
    "response",
    [
        "\\boxed{Alice: knight, Bob: knave, Carol: knight}",
        "<think>Suppose Alice is a knave... no.</think>Alice is a knight, Bob is a knave, and Carol is a knight.",
        'Final answer:\n```json\n{"Alice": "Knight", "Bob": "Knave", "Carol": "Knight"}\n```',
        "Answer: Knights: Alice, Carol; Knaves: Bob",
        "So Alice and Carol are knights, while Bob is a knave.",
        "- alice... no wait\n- Alice (knight)\n- Bob (knave)\n- Carol (knight)",
        "\\boxed{\\text{Alice: knight, Bob: knave, Carol: knight}}",
        "If Bob were a knight... Bob is a knight? No. Final: Alice is a knight, Bob is a knave, Carol is a knight.",
    ],
)
def test_knights_formats_are_accepted(response: str) -> None:
    score = grade("logic", response, KK)
    assert score.correct and score.score == 1.0, score


@pytest.mark.parametrize(
    ("response", "reason"),
    [
        ("\\boxed{Alice: knight, Bob: knight, Carol: knight}", "wrong role for Bob"),
        ("Alice is a knight and Bob is a knave.", "missing role for Carol"),
        ("<think>Alice is a knight, Bob is a knave, Carol is a knight</think>I am not sure.", "no knight"),
        ("", "no knight"),
    ],
)
def test_knights_wrong_or_missing(response: str, reason: str) -> None:
    score = grade("logic", response, KK)
    assert not score.correct and score.score == 0.0
    assert reason in score.reason


@pytest.mark.parametrize(
    "response",
    [
        "\\boxed{Carol, Alice, Bob}",
        'Answer: ["Carol", "Alice", "Bob"]',
        "Answer: Carol > Alice > Bob",
        "Answer:\n1. Carol\n2. Alice\n3. Bob",
        "<think>Alice, Bob, Carol?</think>The queue from front to back is:\nCarol, Alice, and Bob",
        "\\boxed{\\text{Carol}, \\text{Alice}, \\text{Bob}}",
    ],
)
def test_ordering_formats_are_accepted(response: str) -> None:
    assert grade("logic", response, ORDER).correct


@pytest.mark.parametrize("response", ["\\boxed{Alice, Carol, Bob}", "\\boxed{Carol, Alice}", "no idea", "\\boxed{"])
def test_ordering_wrong(response: str) -> None:
    score = grade("logic", response, ORDER)
    assert not score.correct and score.score == 0.0


@pytest.mark.parametrize(
    "truth",
    [
        "not json",
        "[1, 2]",
        json.dumps({"kind": "sudoku", "answer": []}),
        json.dumps({"answer": {"Alice": "knight"}}),
        json.dumps({"kind": "knights_knaves", "answer": ["Alice"]}),
        json.dumps({"kind": "ordering", "answer": {}}),
    ],
)
def test_bad_ground_truth_raises(truth: str) -> None:
    with pytest.raises(GroundTruthError):
        grade("logic", "\\boxed{Alice: knight}", truth)


@pytest.mark.parametrize(
    "response", ["\\boxed{{{{", "```json\n{bad json\n```", "Answer:", "x" * 200_000, "\x00\n\n", *ADVERSARIAL]
)
def test_bad_responses_never_raise(response: str) -> None:
    for truth in (KK, ORDER):
        assert grade("logic", response, truth).score == 0.0


def test_extract_and_same_answer() -> None:
    grader = get_grader("logic")
    a = grader.extract("Alice is a knight, Bob is a knave.")
    b = grader.extract('```json\n{"alice": "knight", "bob": "knave"}\n```')
    assert json.loads(a) == {"Alice": "knight", "Bob": "knave"}
    assert grader.same_answer(a, b)
    assert not grader.same_answer(a, grader.extract("Alice is a knave, Bob is a knave."))
    order = grader.extract("\\boxed{Carol, Alice, Bob}")
    assert json.loads(order) == ["Carol", "Alice", "Bob"]
    assert grader.same_answer(order, '["carol", "alice", "bob"]')
    assert grader.extract("") is None


def test_generated_puzzles_grade_their_own_answers() -> None:
    for problem in generate("logic", 40, 2, {"people": 4}):
        truth = json.loads(problem.answer)["answer"]
        if isinstance(truth, dict):
            right = ", ".join(f"{name}: {role}" for name, role in truth.items())
            flipped = dict(
                truth, **{next(iter(truth)): "knave" if next(iter(truth.values())) == "knight" else "knight"}
            )
            wrong = ", ".join(f"{name}: {role}" for name, role in flipped.items())
        else:
            right, wrong = ", ".join(truth), ", ".join(reversed(truth))
        assert grade("logic", f"<think>...</think>\\boxed{{{right}}}", problem.answer).correct
        assert not grade("logic", f"\\boxed{{{wrong}}}", problem.answer).correct
