"""Problem: the one shape of every dataset row."""

import dataclasses

import pytest

from k2core.data import Problem


def test_round_trip_through_dict() -> None:
    problem = Problem("p-1", "math", "What is 1 + 1?", "2", {"solution": "1 + 1 = 2"})
    assert Problem.from_dict(problem.to_dict()) == problem


def test_meta_defaults_to_empty_and_problem_is_frozen() -> None:
    problem = Problem.from_dict({"id": "p", "domain": "logic", "prompt": "q", "answer": "a"})
    assert problem.meta == {}
    with pytest.raises(dataclasses.FrozenInstanceError):
        problem.answer = "b"  # type: ignore[misc]


@pytest.mark.parametrize("missing", ["id", "domain", "prompt", "answer"])
def test_missing_field_is_named(missing: str) -> None:
    data = {"id": "p", "domain": "math", "prompt": "q", "answer": "1"}
    del data[missing]
    with pytest.raises(ValueError, match=missing):
        Problem.from_dict(data)


def test_non_text_answer_is_rejected() -> None:
    with pytest.raises(ValueError, match="answer"):
        Problem.from_dict({"id": "p", "domain": "math", "prompt": "q", "answer": 27.0})
