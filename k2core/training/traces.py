"""Solver traces for SFT by rejection sampling: the solver engine (embedded by default) answers training problems
in the AM-Thinking chat format and ``k2core.verify`` keeps the correct answers. Adaptive when asked: a problem is
sampled in rounds until it has ``keep`` verified answers or ``max_samples`` were drawn, so hard problems get more
tries and easy ones do not crowd the set; a generated dataset's knobs aim the sampling at chosen problem types.
Resumable: one metrics line per problem marks it done, and a rerun skips what is done."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from k2core.config import Settings
from k2core.data import Problem, data_dir, load_dataset
from k2core.data.decontam import decontaminate
from k2core.engines import Engine, build_engine
from k2core.training.chat import Message as ChatTurn
from k2core.training.chat import prompt_messages
from k2core.training.metrics import MetricsLog, plot_curve
from k2core.training.sft_data import select_verified, trace_row
from k2core.types import Completion, Message, SamplingParams

TRACES_FILE = "traces.jsonl"
PROBLEMS_FILE = "problems.json"
CURVE_KEYS = ("accept_rate", "kept_total", "completion_tokens")


@dataclass(frozen=True)
class TraceJob:
    """What to sample: a training dataset slice, samples per problem and the sampling settings."""

    dataset: str
    out: Path
    limit: int | None = 64
    seed: int = 0
    samples: int = 4
    max_tokens: int = 512
    temperature: float = 1.0
    top_p: float = 0.95
    drop_overlaps: bool = False
    keep: int | None = None  # verified traces kept per problem at most (None: all)
    max_samples: int | None = None  # responses drawn per problem at most, in rounds of ``samples`` (None: one round)
    knobs: Mapping[str, str] | None = None  # a generated dataset's knobs (e.g. gen:tabular questions=max,min)

    def __post_init__(self) -> None:
        if self.keep is not None and self.keep < 1:
            raise ValueError(f"keep: must be at least 1, got {self.keep}")
        if self.max_samples is not None and self.max_samples < self.samples:
            raise ValueError(f"max_samples: must be at least samples ({self.samples}), got {self.max_samples}")


async def sample_verified(
    engine: Engine, problem: Problem, messages: list[Message], params: SamplingParams, job: TraceJob
) -> tuple[list[Completion], list[list[ChatTurn]]]:
    """Rounds of ``job.samples`` responses (seeds continuing from ``params.seed``) until ``job.keep`` are verified
    or ``job.max_samples`` were drawn: every response drawn, and every verified conversation among them."""
    budget = job.max_samples or job.samples
    drawn: list[Completion] = []
    verified: list[list[ChatTurn]] = []
    while len(drawn) < budget and (job.keep is None or len(verified) < job.keep):
        seed = None if params.seed is None else params.seed + len(drawn)
        completions = await engine.generate(messages, params.with_seed(seed), n=min(job.samples, budget - len(drawn)))
        drawn += completions
        verified += select_verified(problem, [c.text for c in completions])
    return drawn, verified


def _check_problem_set(out: Path, job: TraceJob, started: bool) -> None:
    """Record which problems ``out`` samples (dataset, seed, knobs) and refuse to resume it with others: knobs change
    a generated problem but not its id. A folder started before the record existed sampled without knobs."""
    wanted = {"dataset": job.dataset, "seed": job.seed, "knobs": dict(job.knobs or {})}
    path = out / PROBLEMS_FILE
    if path.is_file():
        recorded = json.loads(path.read_text(encoding="utf-8"))
    else:
        recorded = {**wanted, "knobs": {}} if started else wanted
    if recorded != wanted:
        raise ValueError(f"{out}: holds traces of {recorded}, not {wanted}; choose a new --out for this problem set")
    path.write_text(json.dumps(wanted, indent=2) + "\n", encoding="utf-8")


def _forget_unfinished(path: Path, done: set[str]) -> None:
    """Drop trace lines of a problem whose metrics line was never written (the run was killed during it)."""
    if not path.is_file():
        return
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    path.write_text("".join(line for line in lines if json.loads(line)["id"] in done), encoding="utf-8")


async def _collect(
    job: TraceJob, settings: Settings, problems: list[Problem], start: int, log: MetricsLog, console: Console
) -> None:
    engine = build_engine(settings.solver, cache_dir=settings.cache_dir)
    kept_total = sum(r["kept"] for r in log.records())
    columns = (TextColumn("[bold]traces"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TimeRemainingColumn(), TextColumn("{task.fields[info]}"))  # fmt: skip
    try:
        with Progress(*columns, console=console) as bar:
            task = bar.add_task("traces", total=len(problems), completed=start, info="")
            for index in range(start, len(problems)):
                problem = problems[index]
                messages = [Message.model_validate(m) for m in prompt_messages(problem.prompt)]
                params = SamplingParams(temperature=job.temperature, top_p=job.top_p, max_tokens=job.max_tokens,
                                        seed=job.seed * 1_000_003 + index)  # fmt: skip
                completions, verified = await sample_verified(engine, problem, messages, params, job)
                kept = verified[: job.keep]
                with (job.out / TRACES_FILE).open("a", encoding="utf-8") as traces:
                    for conversation in kept:
                        row = trace_row(problem, job.dataset, conversation)
                        traces.write(json.dumps(row, ensure_ascii=False) + "\n")
                kept_total += len(kept)
                count = max(1, len(completions))
                log.append({"step": index + 1, "id": problem.id, "samples": len(completions), "kept": len(kept),
                            "verified": len(verified), "accept_rate": len(verified) / count, "kept_total": kept_total,
                            "completion_tokens": sum(c.completion_tokens for c in completions) / count,
                            "seconds": sum(c.seconds for c in completions)})  # fmt: skip
                bar.update(task, advance=1, info=f"kept {kept_total}")
    finally:
        await engine.close()


def collect_traces(job: TraceJob, settings: Settings, console: Console | None = None) -> dict[str, Any]:
    """Sample with ``settings.solver``, verify and write ``traces.jsonl`` (``trace_row`` lines), ``metrics.jsonl`` and
    ``curve.png`` under ``job.out``; problems come from ``data_dir(settings)``; resumes after the last finished
    problem."""
    console = console or Console(stderr=True)
    loaded = load_dataset(job.dataset, job.limit, job.seed, data_dir(settings), knobs=job.knobs)
    problems = decontaminate(job.dataset, loaded, job.drop_overlaps, data_dir(settings))
    log = MetricsLog(job.out / "metrics.jsonl")
    done = log.records()
    if [r["id"] for r in done] != [p.id for p in problems[: len(done)]]:
        raise ValueError(f"{job.out}: holds traces of other problems; choose a new --out for this dataset slice")
    _check_problem_set(job.out, job, started=bool(done))
    _forget_unfinished(job.out / TRACES_FILE, {r["id"] for r in done})
    (job.out / TRACES_FILE).touch()
    if len(done) < len(problems):
        asyncio.run(_collect(job, settings, problems, len(done), log, console))
    records = log.records()
    title = f"verified traces on {job.dataset}"
    curve = plot_curve(records, CURVE_KEYS, job.out / "curve.png", title) if records else None
    return {
        "out": str(job.out),
        "traces": str(job.out / TRACES_FILE),
        "metrics": str(log.path),
        "curve": str(curve) if curve else None,
        "problems": len(problems),
        "dropped": len(loaded) - len(problems),
        "resumed_from": len(done),
        "samples": sum(r["samples"] for r in records),
        "kept": sum(r["kept"] for r in records),
    }
