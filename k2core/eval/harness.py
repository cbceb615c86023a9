"""Run (problem, run) pairs through a solve function with bounded concurrency; one JSONL line each, resumable."""

from __future__ import annotations

import asyncio
import json
import time
import zlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel, Field

from k2core import verify
from k2core.data import load_dataset
from k2core.data.demonstrations import demonstrations
from k2core.data.problem import Problem
from k2core.pipeline.request import SolveRequest
from k2core.types import Demonstration, SamplingParams, SolveResult, Usage

SolveFn = Callable[[SolveRequest], Awaitable[SolveResult]]
M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")

CONFIG_FILE, RESULTS_FILE, SUMMARY_FILE = "config.json", "results.jsonl", "summary.json"
_IDENTITY = ("dataset", "n", "plan", "judge", "max_tokens", "temperature", "top_p", "seed", "fewshot", "sample")


class Progress(Protocol):
    """Where a run reports how much it plans and finishes (the CLI draws a progress bar)."""

    def add(self, total: int, done: int) -> None:
        """``total`` more units planned, ``done`` of them already finished (resumed)."""

    def advance(self, item: Any) -> None:
        """One unit finished."""


class NoProgress:
    """A Progress that reports nothing."""

    def add(self, total: int, done: int) -> None:
        return None

    def advance(self, item: Any) -> None:
        return None


NO_PROGRESS = NoProgress()


@dataclass(frozen=True)
class EvalSpec:
    """One evaluated arm: the dataset, k runs per problem and the request settings (paper sampling defaults)."""

    dataset: str
    k: int = 1
    n: int = 3
    plan: bool = True
    judge: bool = True
    max_tokens: int = 1024
    temperature: float = 1.0
    top_p: float = 0.95
    seed: int = 0
    limit: int | None = None
    fewshot: int = 0
    sample: int | None = None  # a seeded subset of this size instead of the first ``limit`` rows
    data_dir: str | None = None  # the data folder of file datasets (None: the packaged data)

    def problems(self) -> list[Problem]:
        """The evaluated problems: the first ``limit`` rows, or the seeded subset of ``sample`` problems."""
        return load_dataset(self.dataset, self.limit, self.seed, data_dir=self.data_root, sample=self.sample)

    @property
    def data_root(self) -> Path | None:
        """``data_dir`` as a path."""
        return None if self.data_dir is None else Path(self.data_dir)

    def request(self, problem: Problem, run: int) -> SolveRequest:
        """The request of one (problem, run) pair; its sampling seed depends only on (seed, problem, run)."""
        seed = zlib.crc32(f"{self.seed}:{problem.id}:{run}".encode()) & 0x7FFFFFFF
        params = SamplingParams(temperature=self.temperature, top_p=self.top_p, max_tokens=self.max_tokens, seed=seed)
        return SolveRequest(
            problem=problem.prompt,
            n=self.n,
            plan=self.plan,
            judge=self.judge,
            params=params,
            domain=problem.domain,
            demonstrations=list(self.demonstrations()),
            public_tests=problem.meta.get("public_tests"),
        )

    def demonstrations(self) -> tuple[Demonstration, ...]:
        """The ``fewshot`` worked examples every request of this run shows, apart from the evaluated problems."""
        return _demonstrations(self.dataset, self.fewshot, self.limit, self.seed, self.sample, self.data_root)


@cache
def _demonstrations(
    dataset: str, count: int, limit: int | None, seed: int, sample: int | None, data_dir: Path | None
) -> tuple[Demonstration, ...]:
    if count <= 0:
        return ()
    evaluated = load_dataset(dataset, limit, seed, data_dir=data_dir, sample=sample)
    return tuple(demonstrations(dataset, count, evaluated, seed, data_dir))


class CandidateOutcome(BaseModel):
    """One candidate of a run, graded."""

    answer: str | None
    correct: bool
    completion_tokens: int


class RunRecord(BaseModel):
    """One (problem, run) pair: the graded selected answer, every graded candidate, usage and timings."""

    problem_id: str
    run: int
    domain: str
    answer: str | None = None
    correct: bool = False
    response_tokens: int = 0
    candidates: list[CandidateOutcome] = Field(default_factory=list)
    selection: str = ""
    usage: dict[str, Usage] = Field(default_factory=dict)
    timings_s: dict[str, float] = Field(default_factory=dict)
    seconds: float = 0.0
    error: str | None = None


def grade_result(problem: Problem, run: int, result: SolveResult, seconds: float) -> RunRecord:
    """A RunRecord from a SolveResult: the selected candidate and every candidate graded against the truth."""
    graded = [verify.grade(problem.domain, c.text, problem.answer) for c in result.candidates]
    chosen = next(i for i, c in enumerate(result.candidates) if c.index == result.selected)
    return RunRecord(
        problem_id=problem.id,
        run=run,
        domain=problem.domain,
        answer=result.answer,
        correct=graded[chosen].correct,
        response_tokens=result.candidates[chosen].completion_tokens,
        candidates=[
            CandidateOutcome(answer=c.answer, correct=g.correct, completion_tokens=c.completion_tokens)
            for c, g in zip(result.candidates, graded)
        ],
        selection=result.selection.method,
        usage=result.usage,
        timings_s=result.timings_s,
        seconds=seconds,
    )


def read_records(path: Path, model: type[M]) -> list[M]:
    """Records of a results file; unreadable lines (a write torn by an interruption) are skipped."""
    if not path.exists():
        return []
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            records.append(model.model_validate_json(line))
        except ValueError:
            continue
    return records


def append_record(path: Path, record: BaseModel) -> None:
    """Append one record as a JSON line."""
    with path.open("a", encoding="utf-8") as sink:
        sink.write(record.model_dump_json() + "\n")


def drop_torn_tail(path: Path) -> None:
    """Cut a last line left without its newline by an interrupted write, so appends start on a fresh line."""
    if not path.exists():
        return
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        path.write_bytes(data[: data.rfind(b"\n") + 1])


def latest_records(records: Sequence[RunRecord]) -> dict[tuple[str, int], RunRecord]:
    """The last record of each (problem, run) pair; a retried pair's newer record wins."""
    return {(r.problem_id, r.run): r for r in records}


def config_mismatch(out: Path, spec: EvalSpec) -> str | None:
    """Which request setting of ``spec`` differs from the run in ``out`` (None when it matches or there is none)."""
    path = out / CONFIG_FILE
    if not path.exists():
        return None
    before = json.loads(path.read_text())
    for name in _IDENTITY:
        if before.get(name) != getattr(spec, name):
            return f"{name}: {out} holds a run with {name}={before.get(name)!r}"
    return None


def check_config(out: Path, spec: EvalSpec) -> None:
    """Write ``config.json``, or refuse to resume into a folder made with other request settings."""
    mismatch = config_mismatch(out, spec)
    if mismatch is not None:
        raise ValueError(f"{mismatch}; use another --out")
    out.mkdir(parents=True, exist_ok=True)
    (out / CONFIG_FILE).write_text(json.dumps(asdict(spec), indent=2))


def pending_pairs(
    problems: Sequence[Problem], k: int, done: dict[tuple[str, int], RunRecord]
) -> list[tuple[Problem, int]]:
    """Pairs still to run, run-major (every problem's run 0 first); errored pairs are retried."""
    return [
        (problem, run)
        for run in range(k)
        for problem in problems
        if (problem.id, run) not in done or done[(problem.id, run)].error is not None
    ]


async def run_resumable(
    items: Sequence[T],
    work: Callable[[T], Awaitable[M]],
    failed: Callable[[T, str], M],
    path: Path,
    concurrency: int,
    progress: Progress,
) -> list[M]:
    """``work`` on every item, ``concurrency`` at a time; each record (or ``failed(item, error)``) is appended to
    ``path`` as soon as it exists, so an interruption loses only the items in flight."""
    gate = asyncio.Semaphore(max(1, concurrency))

    async def one(item: T) -> M:
        async with gate:
            try:
                record = await work(item)
            except Exception as exc:  # noqa: BLE001 - one failed item is recorded and retried on resume
                record = failed(item, f"{type(exc).__name__}: {exc}")
        append_record(path, record)
        progress.advance(record)
        return record

    return list(await asyncio.gather(*(one(item) for item in items)))


async def run_eval(
    problems: Sequence[Problem],
    spec: EvalSpec,
    solve: SolveFn,
    out: Path,
    concurrency: int = 2,
    progress: Progress = NO_PROGRESS,
) -> list[RunRecord]:
    """Run every pending pair (resuming ``out/results.jsonl``); return the latest record of each pair."""
    check_config(out, spec)
    path = out / RESULTS_FILE
    drop_torn_tail(path)
    done = latest_records(read_records(path, RunRecord))

    async def solve_pair(pair: tuple[Problem, int]) -> RunRecord:
        problem, run = pair
        start = time.perf_counter()
        result = await solve(spec.request(problem, run))
        return await asyncio.to_thread(grade_result, problem, run, result, time.perf_counter() - start)

    def failed(pair: tuple[Problem, int], error: str) -> RunRecord:
        return RunRecord(problem_id=pair[0].id, run=pair[1], domain=pair[0].domain, error=error)

    pending = pending_pairs(problems, spec.k, done)
    progress.add(len(problems) * spec.k, len(problems) * spec.k - len(pending))
    done |= latest_records(await run_resumable(pending, solve_pair, failed, path, concurrency, progress))
    return [done[(p.id, run)] for run in range(spec.k) for p in problems if (p.id, run) in done]
