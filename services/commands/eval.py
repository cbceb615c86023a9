"""`k2think eval`: the paper's protocol on a dataset (resumable), and the three studies as ``--report``.

Usage (every run appends one JSONL line per finished pair under ``--out``; rerun the same command to resume)::

    k2think eval --dataset gen:arith --limit 20 --k 4 --n 3 --out runs/arith [--no-plan] [--no-judge] [--json]
    k2think eval --dataset aime24 --k 16 --max-tokens 65536 --target 127.0.0.1:50051 --out runs/aime24
    k2think eval --report components --dataset gen:arith --dataset gen:logic --limit 20 --n 4 --out runs/components
    k2think eval --report selection --dataset gen:arith --limit 30 --n 5 --max-tokens 256 --out runs/selection
    K2_PIPELINE__JUDGE_CALIBRATE=true k2think eval --report selection --dataset gen:arith --limit 30 --n 5 \
        --max-tokens 256 --replay-from runs/selection/selection --out runs/selection-calibrated
    k2think eval --report scaling --dataset gen:arith --limit 4 --ns 1,2,3,5,8 --out runs/scaling

Defaults follow the paper: temperature 1.0, top-p 0.95, avg pass@1 over ``--k`` runs; ``--json`` prints only
the summary object (for a report: the report's summary and file paths). ``selection`` samples N candidates once
per problem and compares pass@1, majority@N, k2think's selector, the reference linear judge and the oracle;
``components`` runs that study with and without the plan on each dataset and reads base / +plan / +best-of-N /
both off the same candidates (both in-process only); ``scaling`` times one request at a time for each N.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from k2core.data import list_datasets
from k2core.errors import K2Error, ValidationError
from k2core.eval.components import run_components
from k2core.eval.harness import SUMMARY_FILE, EvalSpec, SolveFn, run_eval
from k2core.eval.identity import check_model, model_identity
from k2core.eval.published import published_figure
from k2core.eval.reports import percent, write_eval
from k2core.eval.scaling import run_scaling
from k2core.eval.selection_study import StudySpec, run_selection_report, study_limit
from k2core.eval.summary import summarize
from k2core.pipeline import Pipeline, SolveRequest
from k2core.roles import Judge
from services.commands._output import print_json, stderr
from services.commands.solve import check_target
from services.settings import ServiceSettings

_DATASET_HELP = f"Dataset name, repeatable: {', '.join(list_datasets())}."


class Report(StrEnum):
    """The studies ``--report`` can run."""

    components = "components"
    selection = "selection"
    scaling = "scaling"


STUDIES = (Report.selection, Report.components)  # sample all N candidates once in process, then replay selection


@dataclass
class Backend:
    """What a run calls: the solve function, the request check of its engine, and the judge role when in-process."""

    solve: SolveFn
    check: Callable[[SolveRequest], None]
    judge: Judge | None


@asynccontextmanager
async def open_backend(target: str, settings: ServiceSettings) -> AsyncIterator[Backend]:
    """The in-process pipeline, or one gateway client for every request when ``target`` is HOST:PORT."""
    if target == "local":
        async with Pipeline.in_process(settings) as pipeline:
            yield Backend(pipeline.solve, pipeline.validate, pipeline.judge)
        return
    from services.remote import ReasonerClient

    client = ReasonerClient(target, settings)
    try:
        yield Backend(client.solve, lambda request: request.check(settings, None), None)
    finally:
        await client.close()


class BarProgress:
    """A rich progress bar on stderr with the running count of correct records (RunRecord, StudyRecord)."""

    def __init__(self, title: str) -> None:
        self.bar = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            TimeRemainingColumn(), console=stderr,
        )  # fmt: skip
        self.title, self.right, self.seen = title, 0, 0
        self.task = self.bar.add_task(title, total=0)

    def __enter__(self) -> BarProgress:
        self.bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.bar.stop()

    def add(self, total: int, done: int) -> None:
        task = self.bar.tasks[0]
        self.bar.update(self.task, total=(task.total or 0) + total, completed=task.completed + done)

    def advance(self, item: Any) -> None:
        self.seen += 1
        self.right += bool(getattr(item, "correct", False))
        errors = " (errors recorded)" if getattr(item, "error", None) else ""
        description = f"{self.title} · correct {self.right}/{self.seen}{errors}"
        self.bar.update(self.task, advance=1, description=description)


def eval_command(
    dataset: list[str] = typer.Option(..., "--dataset", help=_DATASET_HELP),
    limit: int | None = typer.Option(None, "--limit", help="Problems per dataset (first rows; generated count)."),
    sample: int | None = typer.Option(
        None, "--sample", min=1, help="A seeded subset of this many problems (file datasets; MATH-500 by level)."
    ),
    k: int = typer.Option(1, "--k", min=1, help="Runs per problem (avg pass@1 over k, pass@k, maj@k)."),
    n: int | None = typer.Option(None, "--n", min=1, help="Candidates per request (default pipeline.n)."),
    no_plan: bool = typer.Option(False, "--no-plan", help="Skip the planner."),
    no_judge: bool = typer.Option(False, "--no-judge", help="Select without judge calls."),
    max_tokens: int | None = typer.Option(None, "--max-tokens", help="Max tokens per candidate."),
    temperature: float | None = typer.Option(None, "--temperature", help="Sampling temperature (paper: 1.0)."),
    top_p: float | None = typer.Option(None, "--top-p", help="Nucleus sampling (paper: 0.95)."),
    seed: int = typer.Option(0, "--seed", help="Seed of generated datasets and of every request's sampling."),
    fewshot: int = typer.Option(
        0, "--fewshot", min=0, help="Worked examples shown before each problem (for base models), drawn apart from it."
    ),
    target: str = typer.Option("local", "--target", help="'local' (in-process) or a gateway HOST:PORT."),
    concurrency: int = typer.Option(2, "--concurrency", min=1, help="Requests in flight at once."),
    out: Path = typer.Option(..., "--out", help="Folder for results.jsonl, summary and reports (resumed)."),
    report: Report | None = typer.Option(None, "--report", help="Run a study: components, selection or scaling."),
    ns: str = typer.Option("1,2,3,5,8", "--ns", help="N values of the scaling study."),
    replay_from: Path | None = typer.Option(
        None,
        "--replay-from",
        help="Selection study only: judge again the candidates stored in this study folder (e.g. runs/x/selection) "
        "instead of sampling; same dataset and sampling options as that study.",
    ),
    json_output: bool = typer.Option(False, "--json", help="Print only the summary JSON object on stdout."),
) -> None:
    """Evaluate datasets with the paper's protocol (resumable); --report runs the components, selection or scaling
    study."""
    settings = ServiceSettings()
    p = settings.pipeline
    spec = EvalSpec(
        dataset=dataset[0],
        k=k,
        n=n or p.n,
        plan=p.plan and not no_plan,
        judge=p.judge and not no_judge,
        max_tokens=max_tokens or p.max_tokens,
        temperature=p.temperature if temperature is None else temperature,
        top_p=p.top_p if top_p is None else top_p,
        seed=seed,
        limit=limit,
        fewshot=fewshot,
        sample=sample,
        data_dir=None if settings.data_dir is None else str(settings.data_dir),
    )
    checks(spec, dataset, target, settings, report)
    if replay_from is not None and report is not Report.selection:
        raise typer.BadParameter("applies to --report selection", param_hint="--replay-from")
    if replay_from is not None and not (replay_from / "results.jsonl").is_file():
        raise typer.BadParameter(f"{replay_from} holds no results.jsonl", param_hint="--replay-from")
    try:
        check_model(out, model_identity(settings, target))
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--out") from exc
    try:
        result = asyncio.run(
            dispatch(report, spec, dataset, _parse_ns(ns), target, settings, concurrency, out, replay_from)
        )
    except ValidationError as exc:
        raise option_error(exc) from exc
    except (K2Error, ValueError) as exc:
        stderr.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from exc
    if json_output:
        print_json(result)
    else:
        Console().print(render(result))


def checks(spec: EvalSpec, datasets: list[str], target: str, settings: ServiceSettings, report: Report | None) -> None:
    """Fail fast with the offending option: unknown dataset, bad target or an invalid request."""
    known = list_datasets()
    for name in datasets:
        if name not in known:
            raise typer.BadParameter(
                f"unknown dataset {name!r}; expected one of {', '.join(known)}", param_hint="--dataset"
            )
    if report is not None and report is not Report.components and len(datasets) > 1:
        raise typer.BadParameter(f"--report {report.value} takes one dataset", param_hint="--dataset")
    if report in STUDIES and target != "local":
        raise typer.BadParameter(f"the {report.value} study runs in-process: use --target local", param_hint="--target")
    try:
        check_target(target)
        if spec.sample is not None and spec.limit is not None:
            raise typer.BadParameter("give --sample or --limit, not both", param_hint="--sample")
        probe = spec.problems()[:1]
        for name in datasets:
            replace(spec, dataset=name).demonstrations()
        if probe:
            spec.request(probe[0], 0).check(settings, context_tokens=None)  # the engine's context: in dispatch
    except ValidationError as exc:
        raise option_error(exc) from exc


def option_error(exc: ValidationError) -> typer.BadParameter:
    """A request field's error as the error of the option that set it."""
    field = exc.request_field
    option = "fewshot" if field == "demonstrations" else field.replace("_", "-")
    return typer.BadParameter(exc.message, param_hint=f"--{option}")


def _parse_ns(text: str) -> list[int]:
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        values = []
    if not values or min(values) < 1:
        raise typer.BadParameter(f"expected positive integers separated by commas, got {text!r}", param_hint="--ns")
    return values


async def dispatch(
    report: Report | None,
    spec: EvalSpec,
    datasets: list[str],
    ns: list[int],
    target: str,
    settings: ServiceSettings,
    concurrency: int,
    out: Path,
    replay_from: Path | None = None,
) -> dict[str, Any]:
    """Run the plain eval or the chosen study with a progress bar; return the object ``--json`` prints."""
    title = report.value if report else spec.dataset
    if report in STUDIES:  # every selector must see all N candidates: none is cancelled by early majority
        settings = settings.model_copy(deep=True)
        settings.pipeline.early_majority = False
    async with open_backend(target, settings) as backend:
        for problem in spec.problems()[:1]:
            backend.check(spec.request(problem, 0))
        with BarProgress(title) as bar:
            if report is None:
                return await plain_eval(spec, backend.solve, out, concurrency, bar, settings.solver.model)
            if report is Report.components:
                if backend.judge is None:
                    raise K2Error("the components study needs the in-process judge (--target local)")
                summaries = await run_components(
                    datasets, study_spec(spec), backend.solve, backend.judge, out, concurrency, bar
                )
                return _report_result(out, "components", summaries)
            if report is Report.scaling:
                rows = await run_scaling(spec, backend.solve, out, ns, bar)
                return _report_result(out, "scaling", {"rows": rows})
            if backend.judge is None:
                raise K2Error("the selection study needs the in-process judge (--target local)")
            summary = await run_selection_report(
                study_spec(spec), backend.solve, backend.judge, out, concurrency, bar,
                replay_from=replay_from, judge_calibrated=settings.pipeline.judge_calibrate,
            )  # fmt: skip
            return _report_result(out, "selection", summary)


def study_spec(spec: EvalSpec) -> StudySpec:
    """The selection study's workload from the eval options: ``--limit`` or ``--sample`` when given, else every row of
    a file dataset and 30 problems of a generated one."""
    return StudySpec(
        dataset=spec.dataset, limit=study_limit(spec.dataset, spec.limit, spec.sample), sample=spec.sample,
        n=spec.n, plan=spec.plan, max_tokens=spec.max_tokens,
        temperature=spec.temperature, top_p=spec.top_p, seed=spec.seed, fewshot=spec.fewshot, data_dir=spec.data_dir,
    )  # fmt: skip


async def plain_eval(
    spec: EvalSpec, solve: SolveFn, out: Path, concurrency: int, bar: BarProgress, model: str
) -> dict[str, Any]:
    """Run (or resume) one dataset; write ``summary.json`` and the ``eval.md`` / ``eval.png`` report; return the
    summary."""
    start = time.perf_counter()
    problems = spec.problems()
    records = await run_eval(problems, spec, solve, out, concurrency, bar)
    summary = summarize(records, spec, wall_s=time.perf_counter() - start)
    (out / SUMMARY_FILE).write_text(json.dumps(summary, indent=2))
    write_eval(out, summary, model, published_figure(model, spec.dataset))
    return summary


def _report_result(out: Path, name: str, summary: Any) -> dict[str, Any]:
    """The report's summary saved as ``<name>.json`` next to its markdown and PNG."""
    (out / f"{name}.json").write_text(json.dumps(summary, indent=2))
    return {"report": name, "markdown": str(out / f"{name}.md"), "png": str(out / f"{name}.png"), "summary": summary}


def render(result: dict[str, Any]) -> Table | str:
    """A terminal view: the headline metrics of a plain eval, or where a report was written."""
    if "report" in result:
        return f"[bold]{result['report']}[/bold] report: {result['markdown']} (plot: {result['png']})"
    table = Table(title=f"{result['dataset']}: {result['problems']} problems × k={result['k']}, N={result['n']}")
    table.add_column("metric")
    table.add_column("value", justify="right")
    rows = [
        ("avg pass@1", percent(result["avg_pass_at_1"])),
        *((f"pass@{key}", percent(value)) for key, value in result["pass_at_k"].items()),
        ("maj@k", percent(result["maj_at_k"])),
        ("oracle over candidates", percent(result["oracle_at_n"])),
        ("mean response tokens", f"{result['mean_response_tokens']:.1f}"),
        ("judge calls / request", f"{result['judge_calls_per_request']:.2f}"),
        ("seconds / request", f"{result['seconds_per_stage']['total']:.2f}"),
        ("errors", str(result["errors"])),
    ]
    for name, value in rows:
        table.add_row(name, value)
    return table


def register(app: typer.Typer) -> None:
    app.command("eval")(eval_command)
