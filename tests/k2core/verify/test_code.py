"""Code grader: HumanEval and stdin/stdout truth, run only in the sandbox; per-assert partial scores."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from k2core.data.files import FILE_DATASETS
from k2core.verify import GroundTruthError, get_grader
from k2core.verify.domains.code import CodeGrader
from k2core.verify.sandbox import Sandbox, SandboxSettings

GRADER = get_grader("code")
ADD_TRUTH = json.dumps(
    {
        "test": "def check(candidate):\n    assert candidate(1, 2) == 3\n    assert candidate(0, 0) == 0\n"
        "    for a in range(3):\n        assert candidate(a, 1) == a + 1\n    assert True\n",
        "entry_point": "add",
        "prompt": "def add(a: int, b: int) -> int:\n    '''Sum.'''\n",
    }
)
IO_TRUTH = json.dumps({"inputs": ["1 2\n", "3 4\n", "10 -1\n"], "outputs": ["3\n", "7", "9\n"]})


def _fenced(code: str, tag: str = "python") -> str:
    return f"Here is my solution.\n```{tag}\n{code}\n```\nIt runs in O(1)."


def _humaneval() -> list[dict]:
    return FILE_DATASETS["humaneval"].rows()


def _truth(row: dict) -> str:
    return json.dumps({"test": row["test"], "entry_point": row["entry_point"]})


def test_all_humaneval_canonical_solutions_pass_and_a_mutant_fails() -> None:
    rows = _humaneval()
    assert len(rows) == 164

    def grade(row: dict):
        return GRADER.grade(_fenced(row["prompt"] + row["canonical_solution"]), _truth(row))

    with ThreadPoolExecutor(8) as pool:
        scores = list(pool.map(grade, rows))
    failed = [
        (row["task_id"], s.reason) for row, s in zip(rows, scores, strict=True) if not (s.correct and s.score == 1.0)
    ]
    assert not failed, failed
    mutant = rows[0]["prompt"] + rows[0]["canonical_solution"].replace("< threshold", ">= threshold")
    score = GRADER.grade(_fenced(mutant), _truth(rows[0]))
    assert not score.correct and 0.0 <= score.score < 1.0


def test_each_assert_counts_separately() -> None:
    assert GRADER.grade(_fenced("def add(a, b):\n    return a + b"), ADD_TRUTH).score == 1.0
    partial = GRADER.grade(_fenced("def add(a, b):\n    return a + b if a else 0"), ADD_TRUTH)
    assert partial.score == pytest.approx(2 / 3) and not partial.correct and partial.reason.startswith("2/3")


def test_completion_of_the_prompt_is_prepended() -> None:
    assert GRADER.grade(_fenced("    return a + b"), ADD_TRUTH).correct


def test_last_python_block_wins_and_other_languages_are_ignored() -> None:
    response = (
        _fenced("def add(a, b):\n    return a - b")
        + _fenced("def add(a, b):\n    return a + b", "py")
        + _fenced("$ python add.py", "bash")
    )
    score = GRADER.grade(response, ADD_TRUTH)
    assert score.correct and "a + b" in (score.extracted or "")


def test_unfenced_code_in_the_final_answer_is_accepted() -> None:
    assert GRADER.grade("<think>easy</think>\ndef add(a, b):\n    return a + b\n", ADD_TRUTH).correct


@pytest.mark.parametrize("response", ["", "I cannot solve this.", "<think>```python\nprint(1)\n```</think>No idea."])
def test_no_program_scores_zero(response: str) -> None:
    score = GRADER.grade(response, ADD_TRUTH)
    assert score.score == 0.0 and score.extracted is None and score.reason


@pytest.mark.parametrize(
    "program",
    [
        "def add(a, b):\n    return a +",  # syntax error
        "import os\nos._exit(0)",  # exits before any test runs
        "import sys\nsys.exit(0)\ndef add(a, b):\n    return a + b",
        "def add(a, b):\n    raise SystemExit(0)",
        "print('0 0 1\\n1 1 1\\n2 1 1')\ndef add(a, b):\n    return 0",  # forged reports
    ],
)
def test_broken_or_cheating_programs_fail(program: str) -> None:
    assert not GRADER.grade(_fenced(program), ADD_TRUTH).correct


def test_hanging_program_is_cut_off() -> None:
    grader = CodeGrader(Sandbox(SandboxSettings(timeout_s=1.5, max_parallel=2)))
    score = grader.grade(_fenced("def add(a, b):\n    while True:\n        pass"), ADD_TRUTH)
    assert score.score == 0.0 and "timeout" in score.reason


def test_stdin_stdout_truth() -> None:
    program = "a, b = map(int, input().split())\nprint(a + b)"
    assert GRADER.grade(_fenced(program), IO_TRUTH).correct
    partial = GRADER.grade(_fenced("a, b = map(int, input().split())\nprint(a + b if b > 0 else 0)"), IO_TRUTH)
    assert partial.score == pytest.approx(2 / 3) and "wrong output" in partial.reason


@pytest.mark.parametrize(
    "truth",
    [
        "not json",
        json.dumps({"test": "assert True", "entry_point": "f"}),
        json.dumps({"test": "def check(candidate) pass", "entry_point": "f"}),
        json.dumps({"test": "def check(candidate):\n    pass", "entry_point": "not an identifier"}),
        json.dumps({"inputs": ["1"], "outputs": []}),
        json.dumps({"inputs": [1], "outputs": [1]}),
        json.dumps({"something": "else"}),
        json.dumps([1, 2]),
    ],
)
def test_malformed_ground_truth_raises(truth: str) -> None:
    with pytest.raises(GroundTruthError):
        GRADER.grade(_fenced("print(1)"), truth)


def test_same_answer_ignores_formatting_and_comments() -> None:
    a = "def add(a, b):\n    # sum\n    return a+b\n"
    b = "def add(a,b):\n\n    return (a + b)"
    assert GRADER.same_answer(a, b)
    assert not GRADER.same_answer(a, "def add(a, b):\n    return a - b")
