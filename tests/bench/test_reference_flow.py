"""The reference control flow (planner, N parallel solvers, linear judge chain): the chain's semantics over a
scripted OpenAI-shaped client, and a real run against llama.cpp's OpenAI server with the embedded model."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest
from openai import AsyncOpenAI

from bench.headtohead_bench import Outcome, aggregate, interleaved, markdown, sampling_seed, verdict, with_ratios
from bench.reference_flow import FlowSettings, ReferenceFlow
from k2core.data import load_dataset
from k2core.data.demonstrations import demonstrations
from k2core.types import Demonstration

EASY = json.dumps({"is_hard": False, "plan": "Add.", "search_terms": []})
HARD = json.dumps({"is_hard": True, "plan": "Add.", "search_terms": ["addition", "carry"]})


@dataclass
class ScriptedChat:
    """``chat.completions.create`` of an OpenAI client: plans, solver answers in call order, verdicts by rule."""

    answers: list[str]
    winner: str = "B"
    hard: bool = False
    delays: list[float] = field(default_factory=list)
    calls: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.chat = SimpleNamespace(completions=SimpleNamespace(create=self.create))

    async def create(self, **kwargs: Any) -> Any:
        self.calls.append(kwargs)
        prompt = kwargs["messages"][-1]["content"]
        if "planning assistant" in prompt:
            text = HARD if self.hard else EASY
        elif "<plan></plan>" in prompt:
            text = "<plan>Add the ones, then the tens.</plan>"
        elif "impartial judge" in prompt:
            text = json.dumps({"winner": self.winner, "confidence": 0.9, "reason": "r"})
        else:
            solver_calls = sum(1 for c in self.calls if "Solve the following" in c["messages"][-1]["content"])
            await asyncio.sleep(self.delays[solver_calls - 1] if self.delays else 0.0)
            text = f"so \\boxed{{{self.answers[solver_calls - 1]}}}"
        usage = SimpleNamespace(prompt_tokens=10, completion_tokens=5)
        return SimpleNamespace(choices=[SimpleNamespace(message=SimpleNamespace(content=text))], usage=usage)


async def test_linear_chain_makes_n_minus_one_calls_and_the_challenger_must_win() -> None:
    chat = ScriptedChat(answers=["1", "2", "3", "4"], winner="B")
    result = await ReferenceFlow(chat, FlowSettings(model="m", n=4)).run("What is 2 + 2?", seed=5)  # type: ignore[arg-type]
    assert (result.judge_calls, result.selected, result.answer) == (3, 3, "4")
    assert [c["seed"] for c in chat.calls if "Solve the following" in c["messages"][-1]["content"]] == [5, 6, 7, 8]
    # Each sample plans for itself: 4 topics calls + 4 solver calls + 3 judge calls.
    assert result.calls == 11 and result.prompt_tokens == 10 * 11 and result.completion_tokens == 5 * 11
    incumbent = await ReferenceFlow(ScriptedChat(["1", "2", "3"], winner="A"), FlowSettings(model="m")).run("p")  # type: ignore[arg-type]
    assert (incumbent.selected, incumbent.judge_calls) == (0, 2)


async def test_a_hard_problem_gets_a_plan_call_per_sample_and_the_plan_reaches_the_solver() -> None:
    chat = ScriptedChat(answers=["1", "2", "3"], hard=True)
    result = await ReferenceFlow(chat, FlowSettings(model="m", n=3)).run("What is 12 + 29?")  # type: ignore[arg-type]
    plan_calls = [c for c in chat.calls if "<plan></plan>" in c["messages"][-1]["content"]]
    assert len(plan_calls) == 3 and "addition, carry" in plan_calls[0]["messages"][-1]["content"]
    solver = [c for c in chat.calls if "Solve the following" in c["messages"][-1]["content"]]
    assert len(solver) == 3 and all("Add the ones, then the tens." in c["messages"][-1]["content"] for c in solver)
    assert result.calls == 3 + 3 + 3 + 2
    topics = [c for c in chat.calls if "planning assistant" in c["messages"][-1]["content"]]
    assert all(c["response_format"]["type"] == "json_object" for c in topics)


async def test_demonstrations_precede_the_problem_in_every_solver_call() -> None:
    chat = ScriptedChat(answers=["1", "2"])
    demo = Demonstration(problem="What is 1 + 1?", response="\\boxed{2}")
    await ReferenceFlow(chat, FlowSettings(model="m", n=2, demonstrations=(demo,))).run("What is 3 + 3?")  # type: ignore[arg-type]
    solver = [c["messages"] for c in chat.calls if "Solve the following" in c["messages"][-1]["content"]]
    assert len(solver) == 2 and all([m["role"] for m in s] == ["user", "assistant", "user"] for s in solver)
    assert all(s[1]["content"] == "\\boxed{2}" and "3 + 3" in s[2]["content"] for s in solver)


async def test_soft_timeout_goes_on_with_the_finished_candidates() -> None:
    chat = ScriptedChat(answers=["1", "2", "3"], delays=[0.0, 5.0, 5.0])
    flow = ReferenceFlow(chat, FlowSettings(model="m", n=3, soft_timeout_s=0.5))  # type: ignore[arg-type]
    result = await flow.run("p")
    assert len(result.candidates) == 1 and result.judge_calls == 0


def test_aggregate_and_ratios_against_k2think() -> None:
    table = with_ratios(
        {
            "reference": aggregate([Outcome(correct=True, seconds=30.0, completion_tokens=90, judge_calls=2)]),
            "k2think": aggregate([Outcome(correct=True, seconds=15.0, completion_tokens=60, judge_calls=0),
                                  Outcome(error="boom")]),
        }
    )  # fmt: skip
    assert table["reference"]["time_vs_k2think"] == pytest.approx(2.0)
    assert table["k2think"]["errors"] == 1 and table["k2think"]["problems"] == 1
    assert table["reference"]["accuracy_minus_k2think"] == 0.0


@pytest.mark.slow
async def test_reference_flow_against_the_real_llama_server(llama_server) -> None:  # noqa: ANN001 - fixture
    problems = load_dataset("gen:arith", 1, seed=2)
    demos = tuple(demonstrations("gen:arith", 3, problems))
    client = AsyncOpenAI(base_url=llama_server.v1, api_key="unused")
    settings = FlowSettings(model="gemma", n=2, max_tokens=24, plan_max_tokens=48, judge_max_tokens=32, demonstrations=demos)
    result = await ReferenceFlow(client, settings).run(problems[0].prompt, "math", seed=3)
    assert len(result.candidates) == 2 and result.judge_calls == 1 and result.selected in (0, 1)
    assert result.completion_tokens > 0 and result.prompt_tokens > 0
    assert set(result.timings_s) == {"plan+solve", "select", "total"}
    assert result.answer is not None  # shown worked examples, the base model ends with a boxed answer


def _runs(system_correct: dict[str, list[list[bool]]]) -> dict[str, list[Outcome]]:
    """Outcomes per system from ``correct[round][problem]``, 10 s per run for the reference, 5 s for k2think."""
    seconds = {"reference": 10.0, "k2think": 5.0}
    return {
        name: [
            Outcome(correct=ok, seconds=seconds[name], problem_id=f"p{i}", round=r, candidates_correct=[ok, False])
            for r, row in enumerate(rounds)
            for i, ok in enumerate(row)
        ]
        for name, rounds in system_correct.items()
    }


def test_rounds_average_per_problem_and_the_paired_interval_compares_the_same_problems() -> None:
    outcomes = _runs(
        {
            "reference": [[True, False, False, False], [True, False, True, False]],
            "k2think": [[True, True, False, False], [True, False, False, False]],
        }
    )
    table = with_ratios({name: aggregate(rows) for name, rows in outcomes.items()}, outcomes)
    ref, k2 = table["reference"], table["k2think"]
    assert (ref["problems"], ref["runs"], ref["accuracy_per_round"]) == (4, 8, [0.25, 0.5])
    assert ref["accuracy"] == pytest.approx(0.375) and k2["accuracy"] == pytest.approx(0.375)
    assert ref["oracle"] == pytest.approx(0.375)  # the second candidate is never right here
    low, high = ref["accuracy_ci95"]
    assert 0.0 <= low <= 0.375 <= high <= 1.0
    paired = ref["paired_vs_k2think"]
    assert paired["problems"] == 4 and paired["difference"] == pytest.approx(0.0)
    assert paired["ci95"][0] < 0.0 < paired["ci95"][1]
    text = verdict(table)
    assert text is not None and "2.00× faster" in text and "(met" in text and "equal or better" in text
    assert "holds 0" in text


def test_verdict_names_a_loss_the_interval_resolves() -> None:
    outcomes = _runs({"reference": [[True] * 20], "k2think": [[False] * 20]})
    table = with_ratios({name: aggregate(rows) for name, rows in outcomes.items()}, outcomes)
    text = verdict(table)
    assert text is not None and "lower by the point estimate" in text and "k2think worse" in text
    assert "CI [-100.0, -100.0]" in text
    document = {"workload": "w", "settings": {}, "date": "d", "systems": table, "notes": {}, "verdict": text}
    md = markdown(document)
    assert "| reference | 20 × 1 | 0 | 100.0% [100, 100] | 100.0% | +100.0 [+100.0, +100.0]" in md
    assert "**Target**" in md


async def test_interleaved_rounds_use_fresh_seeds_and_rotate_the_order() -> None:
    seen: list[tuple[str, str, int]] = []

    def system(name: str):  # noqa: ANN202 - a SystemFn
        async def run(problem, seed: int) -> Outcome:  # noqa: ANN001
            seen.append((name, problem.id, seed))
            if name == "b" and seed == sampling_seed(0, 1, 0):
                raise RuntimeError("backend went away")
            return Outcome(correct=True, seconds=0.0)

        return run

    problems = load_dataset("gen:arith", 2, seed=0)
    results = await interleaved({"a": system("a"), "b": system("b")}, problems, seed=0, rounds=2)
    assert [(o.problem_id, o.round) for o in results["a"]] == [(problems[0].id, 0), (problems[1].id, 0),
                                                              (problems[0].id, 1), (problems[1].id, 1)]  # fmt: skip
    assert results["b"][2].error == "RuntimeError: backend went away" and results["b"][2].round == 1
    assert {seed for name, _, seed in seen if name == "a"} == {0, 1, 100_000, 100_001}
    assert [name for name, _, _ in seen[:4]] == ["a", "b", "b", "a"]  # the first system rotates per problem


async def test_the_workload_sampling_reaches_k2think_requests() -> None:
    from bench.headtohead_bench import Workload, k2think_system
    from k2core.types import Candidate, Selection, SolveResult, Usage

    seen = []

    async def solve(request):  # noqa: ANN001, ANN202 - the gateway's Solve
        seen.append(request)
        candidate = Candidate(index=0, text="\\boxed{6}", answer="6")
        usage = {role: Usage(calls=1) for role in ("planner", "solver", "judge", "total")}
        return SolveResult(answer="6", final_text="\\boxed{6}", plan=None, candidates=[candidate], selected=0,
                           selection=Selection(), usage=usage, timings_s={})  # fmt: skip

    problem = load_dataset("gen:arith", 1, seed=0)[0]
    work = Workload(n=3, max_tokens=32, plan_max_tokens=8, judge_max_tokens=8, temperature=0.7)
    outcome = await k2think_system(solve, work, adaptive=False)(problem, 11)
    params = seen[0].params
    assert (params.temperature, params.top_p, params.max_tokens, params.seed) == (0.7, 0.95, 32, 11)
    assert outcome.candidates_correct == [outcome.correct]
