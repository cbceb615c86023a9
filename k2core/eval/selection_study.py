"""Selection quality on the same N candidates per problem: pass@1, majority@N, k2think, linear judge, oracle."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from k2core import verify
from k2core.data import load_dataset
from k2core.data.problem import Problem
from k2core.eval import metrics
from k2core.eval.harness import (
    CandidateOutcome,
    EvalSpec,
    NoProgress,
    Progress,
    SolveFn,
    check_config,
    drop_torn_tail,
    grade_result,
    read_records,
    run_resumable,
)
from k2core.eval.reports import write_selection
from k2core.pipeline.select import JudgeFn, same_answer, select
from k2core.roles import Judge
from k2core.types import Candidate, Verdict

SELECTORS = ("pass@1", "majority@N", "k2think", "linear judge", "oracle")
RESULTS_FILE = "results.jsonl"


class Pick(BaseModel):
    """The candidate one selector chose, whether it is correct, and the judge calls it cost."""

    index: int
    correct: bool
    judge_calls: int
    method: str = ""


class StudyRecord(BaseModel):
    """One problem: its graded candidates and the picks of the two judged selectors."""

    problem_id: str
    domain: str
    candidates: list[CandidateOutcome] = Field(default_factory=list)
    k2think: Pick | None = None
    linear: Pick | None = None
    seconds: float = 0.0
    error: str | None = None

    @property
    def correct(self) -> bool:
        """Whether k2think's pick is correct (what a progress display counts)."""
        return self.k2think is not None and self.k2think.correct


@dataclass(frozen=True)
class StudySpec:
    """The study's workload: N candidates per problem sampled once (no judge), then every selector."""

    dataset: str = "gen:arith"
    limit: int = 30
    n: int = 5
    plan: bool = False
    max_tokens: int = 256
    temperature: float = 1.0
    top_p: float = 0.95
    seed: int = 0
    fewshot: int = 0

    def eval_spec(self) -> EvalSpec:
        """The sampling request of every problem: N candidates, the judge off."""
        return EvalSpec(**asdict(self), k=1, judge=False)


def counting_judge(problem: str, judge: Judge, calls: list[int]) -> JudgeFn:
    """A selection JudgeFn over a Judge role: compares final answers only and counts calls in ``calls[0]``."""

    async def compare(a: Candidate, b: Candidate) -> Verdict:
        calls[0] += 1
        final_a, final_b = verify.final_segment(a.text).strip(), verify.final_segment(b.text).strip()
        return (await judge.compare(problem, final_a, final_b)).verdict

    return compare


async def linear_judge(candidates: Sequence[Candidate], judge: JudgeFn) -> int:
    """The reference chain: the incumbent meets each next candidate once (A = incumbent); B must win to replace it."""
    best = candidates[0]
    for challenger in candidates[1:]:
        if (await judge(best, challenger)).winner == "B":
            best = challenger
    return best.index


async def pick_k2think(problem: Problem, candidates: Sequence[Candidate], judge: Judge) -> tuple[int, int, str]:
    """k2think's selector (verifier → strict majority → both-order knockout): index, judge calls, method."""
    calls = [0]
    selection = await select(problem.domain, candidates, counting_judge(problem.prompt, judge, calls))
    return selection.selected, calls[0], selection.method


async def pick_linear(problem: Problem, candidates: Sequence[Candidate], judge: Judge) -> tuple[int, int]:
    """The reference linear judge chain: index and judge calls."""
    calls = [0]
    return await linear_judge(candidates, counting_judge(problem.prompt, judge, calls)), calls[0]


async def study_problem(problem: Problem, spec: StudySpec, solve: SolveFn, judge: Judge) -> StudyRecord:
    """Sample N candidates once, grade them, and let both judged selectors choose among the same candidates."""
    start = time.perf_counter()
    result = await solve(spec.eval_spec().request(problem, 0))
    graded = (await asyncio.to_thread(grade_result, problem, 0, result, 0.0)).candidates
    position = {c.index: i for i, c in enumerate(result.candidates)}
    (k2_index, k2_calls, method), (lin_index, lin_calls) = await asyncio.gather(
        pick_k2think(problem, result.candidates, judge), pick_linear(problem, result.candidates, judge)
    )
    return StudyRecord(
        problem_id=problem.id,
        domain=problem.domain,
        candidates=graded,
        k2think=Pick(index=k2_index, correct=graded[position[k2_index]].correct, judge_calls=k2_calls, method=method),
        linear=Pick(index=lin_index, correct=graded[position[lin_index]].correct, judge_calls=lin_calls),
        seconds=time.perf_counter() - start,
    )


async def run_study(
    problems: Sequence[Problem],
    spec: StudySpec,
    solve: SolveFn,
    judge: Judge,
    out: Path,
    concurrency: int = 1,
    progress: Progress = NoProgress(),
) -> list[StudyRecord]:
    """Study every problem not yet done in ``out/results.jsonl`` (errors are retried); return all records."""
    check_config(out, spec.eval_spec())
    path = out / RESULTS_FILE
    drop_torn_tail(path)
    done = {r.problem_id: r for r in read_records(path, StudyRecord)}
    pending = [p for p in problems if p.id not in done or done[p.id].error is not None]
    progress.add(len(problems), len(problems) - len(pending))

    def failed(problem: Problem, error: str) -> StudyRecord:
        return StudyRecord(problem_id=problem.id, domain=problem.domain, error=error)

    fresh = await run_resumable(pending, lambda p: study_problem(p, spec, solve, judge), failed, path, concurrency, progress)
    done |= {r.problem_id: r for r in fresh}
    return [done[p.id] for p in problems if p.id in done]


def summarize_study(records: Sequence[StudyRecord], spec: StudySpec) -> dict[str, Any]:
    """Accuracy, gap closed and judge calls per selector over the problems studied without error."""
    ok = [r for r in records if r.error is None and r.k2think is not None and r.linear is not None]
    correct = [[c.correct for c in r.candidates] for r in ok]
    answers = [[c.answer for c in r.candidates] for r in ok]
    same = partial(same_answer, ok[0].domain if ok else "math")
    pass1, ceiling = metrics.avg_pass_at_1(correct), metrics.oracle(correct)
    accuracy = {
        "pass@1": pass1,
        "majority@N": metrics.maj_at_k(answers, correct, same),
        "k2think": metrics.mean_or_zero([float(r.k2think.correct) for r in ok]),  # type: ignore[union-attr]
        "linear judge": metrics.mean_or_zero([float(r.linear.correct) for r in ok]),  # type: ignore[union-attr]
        "oracle": ceiling,
    }
    calls = {
        "k2think": metrics.mean_or_zero([r.k2think.judge_calls for r in ok]),  # type: ignore[union-attr]
        "linear judge": metrics.mean_or_zero([r.linear.judge_calls for r in ok]),  # type: ignore[union-attr]
    }
    return {
        **asdict(spec),
        "problems": len(ok),
        "errors": len(records) - len(ok),
        "selectors": {
            name: {
                "accuracy": accuracy[name],
                "gap_closed": metrics.gap_closed(accuracy[name], pass1, ceiling),
                "judge_calls_per_problem": calls.get(name, 0.0),
            }
            for name in SELECTORS
        },
    }


async def run_selection_report(
    spec: StudySpec, solve: SolveFn, judge: Judge, out: Path, concurrency: int = 1, progress: Progress = NoProgress()
) -> dict[str, Any]:
    """Run the study on ``spec.dataset`` (resumable under ``out/selection/``), write the report, return the summary."""
    problems = load_dataset(spec.dataset, spec.limit, spec.seed)
    records = await run_study(problems, spec, solve, judge, out / "selection", concurrency, progress)
    summary = summarize_study(records, spec)
    write_selection(out, summary)
    return summary
