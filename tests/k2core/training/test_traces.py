"""Rejection sampling: rounds until enough verified answers or the budget (fresh seeds each round); knobs aim it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rich.console import Console

from k2core.config import Settings
from k2core.data import Problem
from k2core.training import traces as traces_module
from k2core.training.traces import PROBLEMS_FILE, TraceJob, collect_traces, sample_verified
from k2core.types import Completion, Message, SamplingParams

PROBLEM = Problem("p0", "math", "What is 2 + 2?", "4")
MESSAGES = [Message(role="user", content=PROBLEM.prompt)]


class SeededEngine:
    """Answers right only for the seeds in ``right``; records every seed it was asked for."""

    name = "seeded"
    supports_json_schema = False

    def __init__(self, right: set[int]) -> None:
        self.right = right
        self.seeds: list[int] = []

    async def generate(self, messages: list[Message], params: SamplingParams, n: int = 1) -> list[Completion]:
        assert params.seed is not None
        seeds = [params.seed + i for i in range(n)]
        self.seeds += seeds
        return [Completion(text=f"2 + 2 = {4 if s in self.right else 5}.\n\\boxed{{{4 if s in self.right else 5}}}",
                           completion_tokens=9) for s in seeds]  # fmt: skip


def job(**fields: object) -> TraceJob:
    return TraceJob(dataset="gen:arith", out=Path("unused"), samples=4, **fields)  # type: ignore[arg-type]


async def test_one_round_keeps_every_verified_answer_by_default() -> None:
    engine = SeededEngine(right={100, 102})
    drawn, verified = await sample_verified(engine, PROBLEM, MESSAGES, SamplingParams(seed=100), job())
    assert engine.seeds == [100, 101, 102, 103] and len(drawn) == 4 and len(verified) == 2


async def test_a_hard_problem_is_sampled_in_rounds_with_fresh_seeds_until_one_is_verified() -> None:
    engine = SeededEngine(right={109})
    drawn, verified = await sample_verified(engine, PROBLEM, MESSAGES, SamplingParams(seed=100),
                                            job(keep=1, max_samples=16))  # fmt: skip
    assert engine.seeds == list(range(100, 112)), "three rounds of four, each with new seeds, then stop"
    assert len(drawn) == 12 and len(verified) == 1


async def test_the_budget_bounds_a_problem_the_model_never_solves() -> None:
    engine = SeededEngine(right=set())
    drawn, verified = await sample_verified(engine, PROBLEM, MESSAGES, SamplingParams(seed=0),
                                            job(keep=1, max_samples=10))  # fmt: skip
    assert engine.seeds == list(range(10)) and len(drawn) == 10 and verified == []  # the last round takes the rest


async def test_an_easy_problem_stops_after_its_first_round() -> None:
    engine = SeededEngine(right={0, 1, 2, 3})
    drawn, verified = await sample_verified(engine, PROBLEM, MESSAGES, SamplingParams(seed=0),
                                            job(keep=1, max_samples=16))  # fmt: skip
    assert len(drawn) == 4 and len(verified) == 4  # the caller keeps the first one


@pytest.mark.parametrize(("fields", "match"), [({"keep": 0}, "keep"), ({"max_samples": 3}, "max_samples")])
def test_bad_settings_are_refused_naming_the_field(fields: dict[str, int], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        job(**fields)



class TableEngine(SeededEngine):
    """Answers every table question with the same number; closes like a real engine."""

    async def close(self) -> None:
        return None


def run_traces(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, limit: int, knobs: dict[str, str] | None) -> dict:
    monkeypatch.setattr(traces_module, "build_engine", lambda *args, **kwargs: TableEngine(right=set()))
    table_job = TraceJob(dataset="gen:tabular", out=tmp_path, limit=limit, seed=1000, samples=2, knobs=knobs)
    return collect_traces(table_job, Settings(), console=Console(quiet=True))


def test_knobs_aim_the_problems_and_the_folder_records_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run_traces(tmp_path, monkeypatch, 2, {"questions": "max,min"})
    ids = [json.loads(line)["id"] for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert ids == ["gen:tabular:1000:0", "gen:tabular:1000:1"]
    recorded = json.loads((tmp_path / PROBLEMS_FILE).read_text())
    assert recorded == {"dataset": "gen:tabular", "seed": 1000, "knobs": {"questions": "max,min"}}
    assert run_traces(tmp_path, monkeypatch, 3, {"questions": "max,min"})["resumed_from"] == 2  # same set: resumes


@pytest.mark.parametrize("later", [None, {"questions": "sum"}])
def test_a_folder_refuses_to_resume_with_other_knobs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, later: dict[str, str] | None
) -> None:
    run_traces(tmp_path, monkeypatch, 1, {"questions": "max,min"})
    with pytest.raises(ValueError, match="holds traces of .*max,min"):
        run_traces(tmp_path, monkeypatch, 2, later)  # the ids match, the problems would not
    assert len((tmp_path / "metrics.jsonl").read_text().splitlines()) == 1, "nothing was added"


def test_a_folder_from_before_the_record_sampled_without_knobs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run_traces(tmp_path, monkeypatch, 1, None)
    (tmp_path / PROBLEMS_FILE).unlink()  # as a folder written before problems.json existed
    with pytest.raises(ValueError, match="holds traces of"):
        run_traces(tmp_path, monkeypatch, 2, {"questions": "max"})
    assert run_traces(tmp_path, monkeypatch, 2, None)["resumed_from"] == 1
