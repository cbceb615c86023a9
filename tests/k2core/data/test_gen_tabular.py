"""Table questions: the answer recomputed from the markdown table in the prompt, not from generator data."""

import json

import pytest

from k2core.data import generate
from k2core.data.generators.tabular import QUESTIONS


def parse_table(prompt: str) -> tuple[list[str], list[dict[str, str]]]:
    """Header and rows of the markdown table in a prompt."""
    lines = [line for line in prompt.splitlines() if line.startswith("|")]
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    assert set(lines[1].replace("|", "")) == {"-"}
    rows = [dict(zip(header, (c.strip() for c in line.strip("|").split("|")))) for line in lines[2:]]
    return header, rows


def recompute(header: list[str], rows: list[dict[str, str]], q: dict) -> object:
    """The answer to the question spec, computed directly from the table cells."""
    name, category = header[0], header[1]
    column = [int(r[q["column"]]) for r in rows] if "column" in q else []
    by_name = {r[name]: r for r in rows}
    match q["type"]:
        case "lookup":
            return int(by_name[q["row"]][q["column"]])
        case "category":
            return by_name[q["row"]][category]
        case "sum":
            return sum(column)
        case "max":
            return max(column)
        case "min":
            return min(column)
        case "average":
            return round(sum(column) / len(column), 2)
        case "argmax" | "argmin":
            pick = max(column) if q["type"] == "argmax" else min(column)
            winners = [r[name] for r in rows if int(r[q["column"]]) == pick]
            assert len(winners) == 1
            return winners[0]
        case "count_above":
            return sum(v > q["threshold"] for v in column)
        case "count_category":
            return sum(r[category] == q["category"] for r in rows)
        case "sum_where":
            return sum(int(r[q["column"]]) for r in rows if r[category] == q["category"])
        case "difference":
            return int(by_name[q["row"]][q["column"]]) - int(by_name[q["other"]][q["column"]])
    raise AssertionError(q)


@pytest.mark.parametrize("knobs", [{}, {"rows": 3, "columns": 1}, {"rows": 12, "columns": 5, "max_value": 1000}])
def test_answers_match_a_recomputation_from_the_prompt(knobs: dict) -> None:
    for problem in generate("tabular", 80, 2, knobs):
        header, rows = parse_table(problem.prompt)
        assert len(rows) == knobs.get("rows", 6) and len(header) == 2 + knobs.get("columns", 3)
        truth = json.loads(problem.answer)
        question = problem.meta["question"]
        assert truth["answer"] == recompute(header, rows, question)
        assert question.get("column", "") in problem.prompt.split("\n\n")[-2]
        assert ("tolerance" in truth) == (not isinstance(truth["answer"], str))


def test_every_question_type_occurs_and_can_be_restricted() -> None:
    seen = {p.meta["question"]["type"] for p in generate("tabular", 300, 0)}
    assert seen == set(QUESTIONS)
    only = {p.meta["question"]["type"] for p in generate("tabular", 30, 0, {"questions": "sum,argmax"})}
    assert only == {"sum", "argmax"}


def test_grader_accepts_the_answer() -> None:
    from k2core.verify.domains.tabular import GRADER

    for problem in generate("tabular", 40, 6):
        answer = json.loads(problem.answer)["answer"]
        assert GRADER.grade(f"<think>hmm</think>The answer is \\boxed{{{answer}}}.", problem.answer).correct
        wrong = "Nobody" if isinstance(answer, str) else answer + 1
        assert not GRADER.grade(f"\\boxed{{{wrong}}}", problem.answer).correct
