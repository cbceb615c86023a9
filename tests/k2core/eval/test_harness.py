"""The harness: per-pair JSONL records, resume after interruption or errors, config checks, the summary."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from pathlib import Path

import pytest

from k2core.data import load_dataset
from k2core.eval.harness import RESULTS_FILE, EvalSpec, RunRecord, read_records, run_eval
from k2core.eval.summary import summarize
from k2core.pipeline.request import SolveRequest
from tests.k2core.eval.fakes import FakeSolve

PROBLEMS = load_dataset("gen:arith", 6, seed=3)
SPEC = EvalSpec(dataset="gen:arith", k=2, n=3, max_tokens=64, seed=3, limit=6)


def right(problem, call):  # noqa: ANN001, ANN201 - AnswerFn
    return [problem.answer, problem.answer, "-1"]


class Counter:
    """A Progress that cancels ``task`` after ``stop_after`` records."""

    def __init__(self, stop_after: int | None = None) -> None:
        self.total = self.done = self.advanced = 0
        self.stop_after, self.task = stop_after, None

    def add(self, total: int, done: int) -> None:
        self.total += total
        self.done += done

    def advance(self, item: object) -> None:
        self.advanced += 1
        if self.advanced == self.stop_after and self.task is not None:
            self.task.cancel()


async def test_records_every_pair_with_graded_candidates(tmp_path: Path) -> None:
    solve = FakeSolve(PROBLEMS, right)
    records = await run_eval(PROBLEMS, SPEC, solve, tmp_path)
    assert len(records) == len(PROBLEMS) * 2 == len(solve.calls)
    assert all(r.correct and [c.correct for c in r.candidates] == [True, True, False] for r in records)
    assert len(set(solve.calls)) == len(solve.calls), "each (problem, run) gets its own seed"
    lines = (tmp_path / RESULTS_FILE).read_text().splitlines()
    assert len(lines) == 12 and json.loads((tmp_path / "config.json").read_text())["n"] == 3


async def test_resume_after_interruption_does_not_redo_pairs(tmp_path: Path) -> None:
    first, progress = FakeSolve(PROBLEMS, right, delay=0.01), Counter(stop_after=5)
    progress.task = asyncio.create_task(run_eval(PROBLEMS, SPEC, first, tmp_path, concurrency=1, progress=progress))
    with pytest.raises(asyncio.CancelledError):
        await progress.task
    saved = read_records(tmp_path / RESULTS_FILE, RunRecord)
    assert len(saved) == 5
    with (tmp_path / RESULTS_FILE).open("a") as sink:
        sink.write('{"problem_id": "torn')  # a write cut by the interruption
    second, counter = FakeSolve(PROBLEMS, right), Counter()
    records = await run_eval(PROBLEMS, SPEC, second, tmp_path, progress=counter)
    assert (counter.total, counter.done, counter.advanced) == (12, 5, 7)
    by_id = {p.id: p for p in PROBLEMS}
    saved_seeds = {SPEC.request(by_id[r.problem_id], r.run).params.seed for r in saved}
    assert len(second.calls) == 7 and saved_seeds.isdisjoint(seed for _, seed in second.calls)
    assert len(records) == 12 and all(r in records for r in saved)
    assert len(read_records(tmp_path / RESULTS_FILE, RunRecord)) == 12


async def test_errors_are_recorded_and_retried_on_resume(tmp_path: Path) -> None:
    broken = PROBLEMS[2].id
    records = await run_eval(PROBLEMS, SPEC, FakeSolve(PROBLEMS, right, fail={broken}), tmp_path)
    errors = [r for r in records if r.error]
    assert len(errors) == 2 and "backend down" in errors[0].error
    assert summarize(records, SPEC)["errors"] == 2
    again = FakeSolve(PROBLEMS, right)
    records = await run_eval(PROBLEMS, SPEC, again, tmp_path)
    assert [p for p, _ in again.calls] == [broken, broken]
    assert all(r.error is None for r in records)


async def test_refuses_to_mix_settings_and_allows_more_runs(tmp_path: Path) -> None:
    await run_eval(PROBLEMS[:2], SPEC, FakeSolve(PROBLEMS, right), tmp_path)
    with pytest.raises(ValueError, match="^n:"):
        await run_eval(PROBLEMS[:2], replace(SPEC, n=5), FakeSolve(PROBLEMS, right), tmp_path)
    more = FakeSolve(PROBLEMS, right)
    records = await run_eval(PROBLEMS[:2], replace(SPEC, k=3), more, tmp_path)
    assert len(more.calls) == 2 and len(records) == 6


async def test_summary_metrics(tmp_path: Path) -> None:
    def alternate(problem, call):  # noqa: ANN001, ANN201 - run 0 (calls 1-6) right, run 1 wrong
        return [problem.answer if call <= len(PROBLEMS) else "-1", problem.answer, "-2"]

    records = await run_eval(PROBLEMS, replace(SPEC, k=2), FakeSolve(PROBLEMS, alternate), tmp_path, concurrency=1)
    summary = summarize(records, replace(SPEC, k=2))
    assert summary["problems"] == 6 and summary["runs"] == 12 and summary["errors"] == 0
    assert summary["avg_pass_at_1"] == pytest.approx(0.5)
    assert summary["pass_at_k"] == {"1": pytest.approx(0.5), "2": pytest.approx(1.0)}
    assert summary["maj_at_k"] == pytest.approx(0.5)  # one right, one wrong: a tie worth half
    assert summary["oracle_at_n"] == 1.0
    assert summary["mean_response_tokens"] == 10
    assert summary["tokens_per_request"]["solver"]["completion"] == 33
    assert summary["judge_calls_per_request"] == 2
    assert summary["seconds_per_stage"]["total"] == pytest.approx(0.03)


async def test_fewshot_requests_carry_the_same_held_out_demonstrations(tmp_path: Path) -> None:
    spec = replace(SPEC, fewshot=3)
    seen: list[SolveRequest] = []
    solve = FakeSolve(PROBLEMS, right)

    async def recording(request: SolveRequest):  # noqa: ANN202 - a SolveFn
        seen.append(request)
        return await solve(request)

    await run_eval(PROBLEMS, spec, recording, tmp_path)
    demos = seen[0].demonstrations
    assert len(demos) == 3 and all(r.demonstrations == demos for r in seen)
    assert not {d.problem for d in demos} & {p.prompt for p in PROBLEMS}
    with pytest.raises(ValueError, match="^fewshot:"):
        await run_eval(PROBLEMS, SPEC, FakeSolve(PROBLEMS, right), tmp_path)
