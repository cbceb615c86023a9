"""Demonstrations in the solver conversation and their validation (field names, limits)."""

from __future__ import annotations

import pytest

from k2core.config import Settings
from k2core.errors import TooLargeError, ValidationError
from k2core.pipeline import SolveRequest
from k2core.pipeline.solver import solver_messages, solver_prompt
from k2core.types import Demonstration, Plan

DEMOS = [
    Demonstration(problem="What is 1 + 1?", response="1 + 1 = 2.\nThe final answer is \\boxed{2}."),
    Demonstration(problem="What is 5 - 2?", response="5 - 2 = 3.\nThe final answer is \\boxed{3}."),
]
PLAN = Plan(is_hard=False, plan="Add the numbers.", search_terms=[])


def test_demonstrations_become_solved_turns_before_the_problem() -> None:
    messages = solver_messages("What is 4 + 4?", PLAN, "math", DEMOS)
    assert [m.role for m in messages] == ["user", "assistant", "user", "assistant", "user"]
    assert messages[0].content == solver_prompt("What is 1 + 1?", None, "math")
    assert messages[1].content == DEMOS[0].response
    assert messages[-1].content == solver_prompt("What is 4 + 4?", PLAN, "math")
    assert "Add the numbers." in messages[-1].content
    assert all("Add the numbers." not in m.content for m in messages[:-1])  # the plan is this problem's only


def test_without_demonstrations_the_conversation_is_one_turn() -> None:
    assert len(solver_messages("What is 4 + 4?", None, "math")) == 1


def _request(demos: list[Demonstration], problem: str = "What is 4 + 4?") -> SolveRequest:
    return SolveRequest(problem=problem, demonstrations=demos)


def test_valid_demonstrations_pass() -> None:
    _request(DEMOS).check(Settings(), None)


def test_too_many_demonstrations_name_the_field_and_the_limit() -> None:
    settings = Settings()
    settings.limits.max_demonstrations = 1
    with pytest.raises(ValidationError, match=r"demonstrations: at most 1 allowed \(limits.max_demonstrations\), got 2"):
        _request(DEMOS).check(settings, None)


@pytest.mark.parametrize("name", ["problem", "response"])
def test_an_empty_demonstration_field_is_named_with_its_index(name: str) -> None:
    bad = DEMOS[1].model_copy(update={name: "  "})
    with pytest.raises(ValidationError) as caught:
        _request([DEMOS[0], bad]).check(Settings(), None)
    assert caught.value.field == f"demonstrations[1].{name}"


def test_problem_and_demonstrations_together_respect_the_prompt_limit() -> None:
    settings = Settings()
    settings.limits.max_prompt_bytes = 100
    with pytest.raises(TooLargeError) as caught:
        _request([Demonstration(problem="x" * 40, response="y" * 40)], problem="z" * 30).check(settings, None)
    assert caught.value.field == "demonstrations" and "110 bytes" in str(caught.value)
