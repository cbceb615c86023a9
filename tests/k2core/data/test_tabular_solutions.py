"""Worked solutions of ``gen:tabular``: every question type's solution verifies, walks the table cell by cell, and
its arithmetic is recomputed here from the table in the prompt."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from k2core.data import generate
from k2core.data.generators.tabular import QUESTIONS
from k2core.training.sft_data import worked_solution
from k2core.verify import grade

PROBLEMS = list(generate("tabular", 600, seed=11))


def of_type(kind: str) -> list:
    return [p for p in PROBLEMS if p.meta["question"]["type"] == kind]


def test_every_question_type_has_a_solution_the_verifier_accepts() -> None:
    assert set(Counter(p.meta["question"]["type"] for p in PROBLEMS)) == set(QUESTIONS)
    for problem in PROBLEMS:
        solution = problem.meta["solution"]
        assert solution.rstrip().splitlines()[-1].startswith("\\boxed{")
        assert grade("tabular", solution, problem.answer).correct, problem.id


def test_solutions_never_reach_the_prompt() -> None:
    for problem in PROBLEMS[:50]:
        assert problem.meta["solution"].splitlines()[0] not in problem.prompt


@pytest.mark.parametrize("kind", ["sum", "average", "sum_where"])
def test_every_addition_step_is_right(kind: str) -> None:
    for problem in of_type(kind):
        steps = re.findall(r"(\d+) \+ (\d+) = (\d+)", problem.meta["solution"])
        assert all(int(a) + int(b) == int(total) for a, b, total in steps), problem.id
        if kind != "sum_where":
            assert len(steps) == 5, "six rows: five additions"


def test_running_best_and_counts_name_every_row() -> None:
    for kind in ("max", "min", "argmax", "argmin", "count_above", "count_category"):
        for problem in of_type(kind)[:10]:
            table_rows = [line for line in problem.prompt.splitlines() if line.startswith("| ")][1:]
            names = [row.split("|")[1].strip() for row in table_rows]
            lines = problem.meta["solution"].splitlines()
            assert all(any(f"{name} " in line for line in lines[1:-2]) for name in names), (kind, problem.id)
            assert len(lines) == len(names) + 3, "a heading, one line a row, the conclusion, the answer"


def test_difference_reads_both_rows_and_subtracts() -> None:
    for problem in of_type("difference"):
        q = problem.meta["question"]
        solution = problem.meta["solution"]
        assert f"The row of {q['row']}:" in solution and f"The row of {q['other']}:" in solution
        first, second, result = map(int, re.search(r"(\d+) - (\d+) = (\d+)", solution).groups())
        assert first - second == result


def test_worked_solution_conversation_is_am_thinking_and_graded() -> None:
    problem = of_type("count_category")[0]
    content = worked_solution(problem)[-1]["content"]
    think, answer = content.split("</think>")
    assert "so far" in think and answer.strip().startswith("\\boxed{")
    broken = type(problem)(problem.id, problem.domain, problem.prompt, problem.answer,
                           {**problem.meta, "solution": "Counting.\n\\boxed{99}"})  # fmt: skip
    with pytest.raises(ValueError, match="does not verify"):
        worked_solution(broken)
