"""End-to-end runs on the embedded model (slow): solve with n=3, the event stream, engine sharing, the CLI."""

import json

import pytest
import typer
from typer.testing import CliRunner

from k2core.config import Settings
from k2core.pipeline import CandidateDeltaEvent, CandidateDoneEvent, FinalEvent, Pipeline, PlanEvent, SolveRequest
from services.commands.solve import register

pytestmark = pytest.mark.slow

PROBLEM = "Tom has 3 apples and buys 4 more. How many apples does he have now?"


@pytest.fixture(scope="module")
def settings() -> Settings:
    settings = Settings()
    settings.pipeline.max_tokens = 128
    settings.pipeline.plan_max_tokens = 128
    settings.pipeline.judge_max_tokens = 96
    settings.pipeline.seed = 1
    settings.pipeline.early_majority = False  # every test here but the early-majority one samples all N
    return settings


async def test_solve_end_to_end_with_three_candidates(settings: Settings) -> None:
    async with Pipeline.in_process(settings) as pipeline:
        assert len(pipeline.engines) == 1  # identical role settings share one engine
        result = await pipeline.solve(SolveRequest.from_settings(PROBLEM, settings, n=3))
    assert [c.index for c in result.candidates] == [0, 1, 2]
    assert all(c.text and c.completion_tokens > 0 for c in result.candidates)
    assert result.plan is not None or result.plan_error
    assert result.selection.method in {"answered", "majority", "judge"}
    judge_calls = result.usage["judge"].calls
    assert judge_calls == 2 * len(result.selection.comparisons)
    if result.selection.method == "judge":
        assert judge_calls >= 2
    assert result.usage["solver"].completion_tokens > 0 and result.usage["total"].calls == (
        result.usage["planner"].calls + 3 + judge_calls
    )
    assert result.timings_s["total"] >= result.timings_s["plan"] + result.timings_s["solve"]
    assert result.final_text


async def test_event_stream_order_on_the_real_model(settings: Settings) -> None:
    request = SolveRequest.from_settings(PROBLEM, settings, n=2, max_tokens=64, judge=False)
    async with Pipeline.in_process(settings) as pipeline:
        events = [event async for event in pipeline.events(request)]
    assert isinstance(events[0], PlanEvent) and isinstance(events[-1], FinalEvent)
    texts: dict[int, str] = {}
    done: set[int] = set()
    for event in events[1:-1]:
        if isinstance(event, CandidateDeltaEvent):
            assert event.index not in done
            texts[event.index] = texts.get(event.index, "") + event.text
        elif isinstance(event, CandidateDoneEvent):
            done.add(event.candidate.index)
    assert done == {0, 1}
    result = events[-1].result
    assert {c.index: c.text for c in result.candidates} == texts


def test_cli_json_on_the_real_model() -> None:
    app = typer.Typer()
    app.callback()(lambda: None)
    register(app)
    args = ["solve", "What is 2+2?", "--n", "2", "--max-tokens", "64", "--seed", "3", "--no-plan", "--json"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert len(data["candidates"]) == 2 and data["usage"]["solver"]["completion_tokens"] > 0


async def test_early_majority_on_the_real_model(settings: Settings) -> None:
    from k2core.data import load_dataset
    from k2core.data.demonstrations import demonstrations

    problems = load_dataset("gen:arith", 1, seed=4)
    enabled = settings.model_copy(deep=True)
    enabled.pipeline.early_majority = True
    request = SolveRequest.from_settings(
        problems[0].prompt, enabled, n=3, plan=False, judge=False, max_tokens=24, temperature=0.0,
        demonstrations=demonstrations("gen:arith", 4, problems),
    )  # fmt: skip
    async with Pipeline.in_process(enabled) as pipeline:
        result = await pipeline.solve(request)
    # Greedy decoding: the first two candidates agree, which settles a strict majority of three.
    assert len(result.candidates) == 2 and result.selection.method == "majority"
    assert result.candidates[0].answer == result.candidates[1].answer is not None
    assert result.usage["solver"].calls == 3
