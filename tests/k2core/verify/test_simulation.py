"""Simulation grader: printed output (whitespace-normalised) and countdown expressions (evaluated exactly)."""

import json

import pytest

from k2core.verify import GroundTruthError, get_grader, grade

# Long, unbalanced or repetitive model output must be graded quickly (no quadratic scans, no hang).
ADVERSARIAL = ["\\boxed{" * 30_000, "```\n" * 30_000, "Alice Bob " * 30_000, "Answer:\n" * 30_000, "1," * 100_000]

OUTPUT = json.dumps({"kind": "program_output", "output": "[2, 4]\n6\nananab"})
COUNTDOWN = json.dumps({"kind": "countdown", "numbers": [3, 5, 2, 7], "target": 16, "use_all": False})
ALL = json.dumps({"kind": "countdown", "numbers": [3, 5, 2, 1], "target": 16, "use_all": True})


@pytest.mark.parametrize(
    "response",
    [
        "```output\n[2, 4]\n6\nananab\n```",
        "<think>```python\nprint(1)\n```</think>It prints:\n```\n[2, 4]\n6\nananab\n```",
        "```output\n  [2, 4]  \n\n6\nananab\n```",
        "Output:\n[2, 4]\n6\nananab",
        "\\boxed{[2, 4] 6 ananab}",
    ],
)
def test_output_formats_are_accepted(response: str) -> None:
    assert grade("simulation", response, OUTPUT).correct


@pytest.mark.parametrize(
    "response", ["```output\n[2, 4]\n6\nbanana\n```", "```output\n[2,4]\n6\nananab\n```", "\\boxed{6}"]
)
def test_wrong_output(response: str) -> None:
    score = grade("simulation", response, OUTPUT)
    assert not score.correct and score.reason == "output differs"


def test_output_without_an_answer_span_is_no_answer() -> None:
    score = grade("simulation", "<think>```output\n6\n```</think>I think it prints six.", OUTPUT)
    assert score.extracted is None and score.score == 0.0


@pytest.mark.parametrize(
    "response",
    [
        "\\boxed{(3 + 5) * 2}",
        "\\boxed{(3 + 5) \\times 2 = 16}",
        "Answer: 16 = 2 × (5 + 3)",
        "Answer: **7 * 2 + 5 - 3**",
        "<think>try 7 + 5</think>\n3 * 7 - 5",
        "\\boxed{\\frac{7 \\cdot 5 - 3}{2}}",
        "\\boxed{\\left(5 + 3\\right) \\cdot 2}",
    ],
)
def test_countdown_valid_expressions(response: str) -> None:
    score = grade("simulation", response, COUNTDOWN)
    assert score.correct, score


def test_countdown_allows_exact_fractions_on_the_way() -> None:
    truth = json.dumps({"kind": "countdown", "numbers": [1, 3, 4, 6], "target": 24})
    assert grade("simulation", "\\boxed{6 / (1 - 3 / 4)}", truth).correct


@pytest.mark.parametrize(
    ("response", "reason"),
    [
        ("\\boxed{(3 + 5) * 3}", "not available"),
        ("\\boxed{16}", "not available"),
        ("\\boxed{4 * 4}", "not available"),
        ("\\boxed{3 + 5 + 2 + 7}", "evaluates to 17"),
        ("\\boxed{2 ** 4}", "unsupported"),
        ("\\boxed{__import__('os').system('true')}", "unsupported"),
        ("\\boxed{7 / (5 - 5)}", "not available"),
        ("\\boxed{7 / (5 - 3 - 2)}", "division by zero"),
        ("\\boxed{(3 + 5) * 2", "not an arithmetic expression"),
        ("\\boxed{-3 + 5 * 2 + 7 + 2}", "unsupported"),
        ("\\boxed{" + "(" * 200 + "3" + ")" * 200 + "}", "too long"),
    ],
)
def test_countdown_invalid_expressions(response: str, reason: str) -> None:
    score = grade("simulation", response, COUNTDOWN)
    assert not score.correct and score.score == 0.0
    assert reason in score.reason, score


def test_countdown_use_all() -> None:
    assert grade("simulation", "\\boxed{(3 + 5) * 2 * 1}", ALL).correct
    assert "exactly once" in grade("simulation", "\\boxed{(3 + 5) * 2}", ALL).reason


@pytest.mark.parametrize(
    "truth",
    [
        "oops",
        json.dumps({"kind": "program_output"}),
        json.dumps({"kind": "program_output", "output": 5}),
        json.dumps({"kind": "countdown", "numbers": [1, 2], "target": "3"}),
        json.dumps({"kind": "countdown", "numbers": [], "target": 3}),
        json.dumps({"kind": "countdown", "numbers": [1.5], "target": 3}),
        json.dumps({"kind": "maze"}),
    ],
)
def test_bad_ground_truth_raises(truth: str) -> None:
    with pytest.raises(GroundTruthError):
        grade("simulation", "\\boxed{1 + 2}", truth)


@pytest.mark.parametrize(
    "response", ["", "\\boxed{", "```", "Answer:", "1/0", "9" * 5000, "(((((((((((((((", *ADVERSARIAL]
)
def test_bad_responses_never_raise(response: str) -> None:
    for truth in (OUTPUT, COUNTDOWN):
        assert grade("simulation", response, truth).score == 0.0


def test_extract_and_same_answer() -> None:
    grader = get_grader("simulation")
    assert grader.extract("```output\n1\n2\n```") == "1\n2\n"
    assert grader.same_answer("1\n2", "1 2 ")
    assert not grader.same_answer("1 2", "12")
    assert grader.extract("nothing here") is None
