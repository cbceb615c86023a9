"""The re-created reference flow: per-sample planning, the linear judge chain over every slot, the soft timeout,
its own settings and prompts (not k2think's) over a scripted OpenAI-shaped client."""

from __future__ import annotations

import asyncio
import difflib
import json
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest

from bench import reference_flow
from bench.reference_flow import FlowSettings, ReferenceFlow, judged_text
from k2core.pipeline import templates


@dataclass
class ScriptedChat:
    """``chat.completions.create`` of an OpenAI client: topics, plans, solver answers in call order, verdicts."""

    answers: list[str]
    winner: int = 1
    hard: bool = False
    delays: list[float] = field(default_factory=list)
    fail: set[int] = field(default_factory=set)
    calls: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.chat = SimpleNamespace(completions=SimpleNamespace(create=self.create))

    def solver_calls(self) -> list[dict[str, Any]]:
        return [c for c in self.calls if c["messages"][0]["content"] == reference_flow.SOLVER_SYSTEM]

    async def create(self, **kwargs: Any) -> Any:
        self.calls.append(kwargs)
        first = kwargs["messages"][0]["content"]
        if "things you would look up" in first:
            text = json.dumps({"is_hard_problem": self.hard, "plan": "p", "search_list": ["carry", "place value"]})
        elif "<plan> and </plan>" in first:
            text = "<plan>Add the ones, then the tens.</plan>"
        elif first == reference_flow.JUDGE_SYSTEM:
            text = json.dumps({"index": self.winner, "explanation": "r"})
        else:
            number = len(self.solver_calls())
            await asyncio.sleep(self.delays[number - 1] if self.delays else 0.0)
            if number in self.fail:
                raise RuntimeError("server error")
            text = f"<think>adding</think> <answer>{self.answers[number - 1]}</answer>"
        usage = SimpleNamespace(prompt_tokens=10, completion_tokens=5)
        return SimpleNamespace(choices=[SimpleNamespace(message=SimpleNamespace(content=text))], usage=usage)


async def test_the_chain_walks_every_slot_and_the_challenger_must_win() -> None:
    chat = ScriptedChat(answers=["1", "2", "3", "4"], winner=1)
    result = await ReferenceFlow(chat, FlowSettings(model="m", n=4)).run("What is 2 + 2?", seed=5)  # type: ignore[arg-type]
    assert (result.judge_calls, result.selected, result.chosen) == (3, 3, "<think>adding</think> <answer>4</answer>")
    assert [c["seed"] for c in chat.solver_calls()] == [5, 6, 7, 8]
    assert result.calls == 4 + 4 + 3 and result.completion_tokens == 5 * 11  # topics + solver per sample, N-1 judge
    incumbent = await ReferenceFlow(ScriptedChat(["1", "2", "3"], winner=0), FlowSettings(model="m")).run("p")  # type: ignore[arg-type]
    assert (incumbent.selected, incumbent.judge_calls) == (0, 2)


async def test_planner_and_judge_calls_set_no_sampling_options_and_the_solver_only_its_temperature() -> None:
    chat = ScriptedChat(answers=["1", "2", "3"], hard=True)
    await ReferenceFlow(chat, FlowSettings(model="m", n=3)).run("What is 12 + 29?", seed=0)  # type: ignore[arg-type]
    for call in chat.calls:
        options = set(call) - {"model", "messages", "extra_body"}
        solver = call["messages"][0]["content"] == reference_flow.SOLVER_SYSTEM
        assert options == ({"temperature", "seed"} if solver else set()), call
    judge = [c for c in chat.calls if c["messages"][0]["content"] == reference_flow.JUDGE_SYSTEM]
    assert all(c["extra_body"] == {"guided_json": reference_flow.VERDICT_SCHEMA} for c in judge)
    capped = ScriptedChat(answers=["1"])
    await ReferenceFlow(capped, FlowSettings(model="m", n=1, max_tokens=64)).run("p")  # type: ignore[arg-type]
    assert capped.solver_calls()[0]["max_tokens"] == 64


async def test_a_hard_problem_plans_per_sample_and_the_ideas_reach_the_solver() -> None:
    chat = ScriptedChat(answers=["1", "2", "3"], hard=True)
    result = await ReferenceFlow(chat, FlowSettings(model="m", n=3)).run("What is 12 + 29?")  # type: ignore[arg-type]
    plans = [c for c in chat.calls if "<plan> and </plan>" in c["messages"][0]["content"]]
    assert len(plans) == 3 and "['carry', 'place value']" in plans[0]["messages"][0]["content"]
    assert all("<ideas>Add the ones, then the tens.</ideas>" in c["messages"][1]["content"] for c in chat.solver_calls())
    assert result.calls == 3 + 3 + 3 + 2


async def test_an_easy_problem_reaches_the_solver_as_asked() -> None:
    chat = ScriptedChat(answers=["1"])
    await ReferenceFlow(chat, FlowSettings(model="m", n=1)).run("What is 3 + 3?")  # type: ignore[arg-type]
    assert chat.solver_calls()[0]["messages"][1]["content"] == "What is 3 + 3?"


async def test_past_the_soft_timeout_unfinished_samples_still_meet_the_judge_as_no_answer() -> None:
    chat = ScriptedChat(answers=["1", "2", "3"], delays=[0.0, 5.0, 5.0])
    result = await ReferenceFlow(chat, FlowSettings(model="m", n=3, soft_timeout_s=0.3)).run("p")  # type: ignore[arg-type]
    assert result.candidates[1:] == [None, None] and result.judge_calls == 2
    judged = [c["messages"][1]["content"] for c in chat.calls if c["messages"][0]["content"] == reference_flow.JUDGE_SYSTEM]
    assert all(text.endswith(f"Response 1: {reference_flow.NO_ANSWER}") for text in judged)


async def test_a_failed_sample_leaves_its_slot_empty() -> None:
    chat = ScriptedChat(answers=["1", "2", "3"], fail={2})
    result = await ReferenceFlow(chat, FlowSettings(model="m", n=3)).run("p")  # type: ignore[arg-type]
    assert sum(c is None for c in result.candidates) == 1 and result.judge_calls == 2


def test_the_judge_reads_the_text_after_think_or_the_tail_of_the_working() -> None:
    assert judged_text("<think>long</think> <answer>4</answer>") == " <answer>4</answer>"
    assert judged_text(None) == reference_flow.NO_ANSWER
    tail = judged_text("x" * 3000 + "end")
    assert tail.endswith("x" * 1997 + "end") and "x" * 2001 not in tail


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        (reference_flow.TOPICS, "planner"),
        (reference_flow.JUDGE_SYSTEM + reference_flow.JUDGE_USER, "judge"),
        (reference_flow.SOLVER_SYSTEM + reference_flow.SOLVER_WITH_IDEAS, "solver"),
        (reference_flow.PLAN_FROM_TOPICS, "solver_plan"),
    ],
)
def test_the_reference_prompts_are_its_own_not_k2thinks(ours: str, theirs: str) -> None:
    k2think = templates.load(theirs)
    assert difflib.SequenceMatcher(None, ours, k2think).ratio() < 0.3
    assert not set(ours.splitlines()) & set(k2think.splitlines())


def test_the_prompts_keep_the_published_structure() -> None:
    assert "<think>" in reference_flow.SOLVER_SYSTEM and "<answer>" in reference_flow.SOLVER_SYSTEM
    assert {"{question}", "<question>", "<topics>", "<plan>"} <= set(
        w for w in ("{question}", "<question>", "<topics>", "<plan>") if w in reference_flow.PLAN_FROM_TOPICS
    )
    assert "<ideas>{ideas}</ideas>" in reference_flow.SOLVER_WITH_IDEAS
    assert "Response 0: {a}" in reference_flow.JUDGE_USER and "'better_index'" in reference_flow.JUDGE_SYSTEM
    assert set(reference_flow.TOPICS_SCHEMA["required"]) == {"is_hard_problem", "plan", "search_list"}
    assert 40 <= len(reference_flow.TOPICS.split()) <= 90 and 40 <= len(reference_flow.SOLVER_SYSTEM.split()) <= 80
