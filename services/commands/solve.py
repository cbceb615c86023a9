"""`k2think solve`: plan, best-of-N and judged answer to one problem, in-process or through a gateway."""

from __future__ import annotations

import asyncio
import importlib
import inspect
from pathlib import Path

import typer
from rich.console import Console, Group
from rich.panel import Panel
from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from k2core.data.demonstrations import read_demonstrations
from k2core.errors import K2Error, ValidationError
from k2core.pipeline import (
    CandidateDeltaEvent,
    CandidateDoneEvent,
    FinalEvent,
    Pipeline,
    PlanEvent,
    SolveEvent,
    SolveRequest,
    VerdictEvent,
)
from k2core.types import Demonstration, SolveResult
from k2core.validation import validate_engine_name
from services.commands._output import print_json, stderr
from services.settings import ServiceSettings

_STAGE_ROLES = {"plan": "planner", "solve": "solver", "select": "judge", "total": "total"}
_HINTS = {"problem": "PROBLEM", "n": "--n", "engine": "--engine", "target": "--target", "seed": "--seed"}


def solve(
    problem: str = typer.Argument(..., help="The problem to solve."),
    n: int | None = typer.Option(None, "--n", help="Candidates to sample (default pipeline.n)."),
    no_plan: bool = typer.Option(False, "--no-plan", help="Skip the planner."),
    no_judge: bool = typer.Option(False, "--no-judge", help="Select by majority or tiebreak, without judge calls."),
    engine: str | None = typer.Option(
        None, "--engine", help="Engine for every role: embedded, openai, vllm, cerebras."
    ),
    max_tokens: int | None = typer.Option(None, "--max-tokens", help="Max tokens per candidate."),
    temperature: float | None = typer.Option(None, "--temperature", help="Solver temperature (default 1.0)."),
    top_p: float | None = typer.Option(None, "--top-p", help="Solver nucleus mass in (0, 1] (default 0.95)."),
    seed: int | None = typer.Option(None, "--seed", help="Seed of candidate 0; candidate i uses seed+i."),
    domain: str | None = typer.Option(None, "--domain", help="Answer domain: math, code, science, logic, ..."),
    target: str = typer.Option("local", "--target", help="'local' (in-process) or a gateway HOST:PORT."),
    demonstrations: Path | None = typer.Option(
        None, "--demonstrations", help="Worked examples shown first: JSON lines of {problem, response}."
    ),
    json_output: bool = typer.Option(False, "--json", help="Print one JSON object on stdout."),
) -> None:
    """Solve PROBLEM: plan, sample N candidates, select one (verifier, majority or judge knockout)."""
    settings = ServiceSettings()
    try:
        if engine is not None:
            validate_engine_name(engine)
            settings = with_engine(settings, engine)
        request = SolveRequest.from_settings(
            problem,
            settings,
            n=n,
            plan=False if no_plan else None,
            judge=False if no_judge else None,
            max_tokens=max_tokens,
            temperature=temperature,
            top_p=top_p,
            seed=seed,
            domain=domain,
            demonstrations=_demonstrations(demonstrations),
        )
        check_target(target)
        request.check(settings, context_tokens=None)  # the engine's context is checked by whoever builds it
        result = asyncio.run(run(request, settings, target))
    except ValidationError as exc:
        field = exc.request_field
        message = exc.message if field == exc.field else f"{exc.field}: {exc.message}"  # which entry of a list
        raise typer.BadParameter(message, param_hint=_HINTS.get(field, f"--{field.replace('_', '-')}")) from exc
    except K2Error as exc:
        stderr.print(f"[red]error:[/red] {type(exc).__name__}: {exc}")
        raise typer.Exit(1) from exc
    if json_output:
        print_json(result.to_json_dict())
    else:
        Console().print(render(result))


def _demonstrations(path: Path | None) -> list[Demonstration] | None:
    """The ``--demonstrations`` file's examples; an unreadable or malformed file names the option."""
    if path is None:
        return None
    try:
        return read_demonstrations(path)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--demonstrations") from exc


def with_engine(settings: ServiceSettings, engine: str) -> ServiceSettings:
    """``settings`` with every role on ``engine``."""
    roles = {
        role: getattr(settings, role).model_copy(update={"engine": engine}) for role in ("planner", "solver", "judge")
    }
    return settings.model_copy(update=roles)


def check_target(target: str) -> None:
    """``local`` or ``HOST:PORT`` with a numeric port."""
    host, sep, port = target.rpartition(":")
    if target != "local" and not (sep and host and port.isdigit()):
        raise ValidationError("target", f"expected 'local' or HOST:PORT, got {target!r}")


async def run(request: SolveRequest, settings: ServiceSettings, target: str) -> SolveResult:
    """Solve in-process with live progress on stderr, or through the gateway at ``target``."""
    if target != "local":
        return await solve_remote(target, request, settings)
    with SolveProgress(request) as progress:
        async with Pipeline.in_process(settings) as pipeline:
            async for event in pipeline.events(request):
                progress.update(event)
                if isinstance(event, FinalEvent):
                    return event.result
    raise RuntimeError("the event stream ended without a final event")


async def solve_remote(target: str, request: SolveRequest, settings: ServiceSettings) -> SolveResult:
    """Call ``services.remote.solve_remote`` (the gateway client), imported only when a remote target is used."""
    try:
        remote = importlib.import_module("services.remote")
    except ModuleNotFoundError as exc:
        if exc.name != "services.remote":
            raise
        raise K2Error(f"--target {target}: the gateway client (services.remote) is not installed") from exc
    result = remote.solve_remote(target, request, settings)
    return await result if inspect.isawaitable(result) else result


class SolveProgress:
    """Live progress on stderr driven by stage events: plan, one line per candidate, judge verdicts."""

    def __init__(self, request: SolveRequest) -> None:
        self.progress = Progress(
            SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=stderr, transient=False
        )
        self.plan_task: TaskID | None = None
        self.request = request
        self.candidates: dict[int, TaskID] = {}
        self.deltas: dict[int, int] = {}

    def __enter__(self) -> SolveProgress:
        self.progress.start()
        if self.request.plan:
            self.plan_task = self.progress.add_task("plan: thinking…", total=1)
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def update(self, event: SolveEvent) -> None:
        """Reflect one event."""
        if isinstance(event, PlanEvent) and self.plan_task is not None:
            status = f"{event.usage.completion_tokens} tokens" if event.plan else f"no plan ({event.error})"
            self.progress.update(self.plan_task, description=f"plan: {status}", completed=1)
        elif isinstance(event, CandidateDeltaEvent):
            self.deltas[event.index] = self.deltas.get(event.index, 0) + 1
            self.progress.update(
                self._task(event.index),
                description=f"candidate {event.index}: streaming ({self.deltas[event.index]} chunks)",
            )
        elif isinstance(event, CandidateDoneEvent):
            c = event.candidate
            text = f"candidate {c.index}: {c.answer!r} ({c.finish_reason}, {c.completion_tokens} tokens)"
            self.progress.update(self._task(c.index), description=text, completed=1)
        elif isinstance(event, VerdictEvent):
            comp = event.comparison
            text = f"judge round {comp.round}: {comp.a} vs {comp.b} → {_winner(comp.winner)}"
            self.progress.update(self.progress.add_task(text, total=1), completed=1)

    def _task(self, index: int) -> TaskID:
        if index not in self.candidates:
            self.candidates[index] = self.progress.add_task(f"candidate {index}", total=1)
        return self.candidates[index]


def render(result: SolveResult) -> Group:
    """The answer record for a terminal: plan, candidates, verdicts, answer, tokens and seconds per stage."""
    return Group(
        _plan_panel(result), _candidates_table(result), _verdicts(result), _answer_panel(result), _stages_table(result)
    )


def _plan_panel(result: SolveResult) -> Panel:
    if result.plan is None:
        return Panel(Text(result.plan_error or "planning off"), title="Plan", border_style="dim")
    body = Text(result.plan.plan)
    if result.plan.search_terms:
        body.append(f"\nsearch terms: {', '.join(result.plan.search_terms)}", style="dim")
    return Panel(body, title=f"Plan (hard: {result.plan.is_hard})")


def _candidates_table(result: SolveResult) -> Table:
    table = Table(title="Candidates")
    for column in ("#", "answer", "finish", "tokens", "seconds", "verifier"):
        table.add_column(column)
    for c in result.candidates:
        mark = "★ " if c.index == result.selected else ""
        score = "" if c.verifier_score is None else f"{c.verifier_score:g}"
        table.add_row(
            f"{mark}{c.index}", str(c.answer), c.finish_reason, str(c.completion_tokens), f"{c.seconds:.2f}", score
        )
    return table


def _verdicts(result: SolveResult) -> Table | Text:
    selection = result.selection
    if not selection.comparisons:
        return Text(f"selection: {selection.method} — {selection.reason}")
    table = Table(title=f"Judge verdicts (selection: {selection.method})")
    for column in ("round", "pair", "A first", "B first", "winner", "tiebreak"):
        table.add_column(column)
    for comp in selection.comparisons:
        table.add_row(
            str(comp.round),
            f"{comp.a} vs {comp.b}",
            comp.verdict_ab.winner,
            comp.verdict_ba.winner,
            _winner(comp.winner),
            comp.tiebreak or "",
        )
    return table


def _answer_panel(result: SolveResult) -> Panel:
    body = Text(f"answer: {result.answer}\n", style="bold")
    body.append(result.final_text)
    suffix = " (soft deadline)" if result.deadline == "soft" else ""
    return Panel(body, title=f"Chosen: candidate {result.selected}{suffix}", border_style="green")


def _stages_table(result: SolveResult) -> Table:
    table = Table(title="Stages")
    for column in ("stage", "seconds", "role", "calls", "prompt tokens", "completion tokens", "cost (USD)"):
        table.add_column(column)
    for stage, role in _STAGE_ROLES.items():
        usage = result.usage[role]
        cost = "" if usage.cost_usd is None else f"{usage.cost_usd:.6f}"
        table.add_row(
            stage,
            f"{result.timings_s.get(stage, 0.0):.2f}",
            role,
            str(usage.calls),
            str(usage.prompt_tokens),
            str(usage.completion_tokens),
            cost,
        )
    return table


def _winner(winner: int | None) -> str:
    return "tie" if winner is None else str(winner)


def register(app: typer.Typer) -> None:
    app.command("solve")(solve)
