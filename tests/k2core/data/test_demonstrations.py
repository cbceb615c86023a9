"""Few-shot demonstrations: every dataset's worked response passes its own grader, and demos never leak the
evaluated problems."""

from __future__ import annotations

import pytest

from k2core import verify
from k2core.data import list_datasets, load_dataset
from k2core.data.demonstrations import DEMO_SEED_OFFSET, demonstrations, worked_response


@pytest.mark.parametrize("dataset", list_datasets())
def test_worked_responses_pass_the_domain_grader(dataset: str) -> None:
    problems = load_dataset(dataset, limit=12, seed=5)
    for problem in problems:
        response = worked_response(problem)
        assert verify.grade(problem.domain, response, problem.answer).correct, (problem.id, response)


def test_arith_demonstration_shows_the_working_and_the_boxed_answer() -> None:
    problem = load_dataset("gen:arith", limit=1)[0]
    expression = problem.meta["expression"]
    assert worked_response(problem) == f"{expression} = {problem.answer}.\nThe final answer is \\boxed{{{problem.answer}}}."


def test_generated_demonstrations_avoid_every_evaluated_prompt_and_are_seeded() -> None:
    evaluated = load_dataset("gen:arith", limit=60, seed=0)
    demos = demonstrations("gen:arith", 8, evaluated, seed=0)
    assert len(demos) == 8 and len({d.problem for d in demos}) == 8
    assert not {d.problem for d in demos} & {p.prompt for p in evaluated}
    assert demos == demonstrations("gen:arith", 8, evaluated, seed=0)
    pool = {p.prompt for p in load_dataset("gen:arith", limit=200, seed=DEMO_SEED_OFFSET)}
    assert {d.problem for d in demos} <= pool


def test_file_demonstrations_come_from_rows_not_evaluated() -> None:
    evaluated = load_dataset("gsm8k_test", limit=10)
    demos = demonstrations("gsm8k_test", 3, evaluated)
    assert len(demos) == 3 and not {d.problem for d in demos} & {p.prompt for p in evaluated}
    assert all("\\boxed{" in d.response for d in demos)


def test_zero_asked_is_none_and_too_many_is_a_clear_error() -> None:
    assert demonstrations("gen:arith", 0) == []
    everything = load_dataset("aime24")
    with pytest.raises(ValueError, match="fewshot: aime24 has only 0 problems apart from the evaluated ones"):
        demonstrations("aime24", 2, everything)
