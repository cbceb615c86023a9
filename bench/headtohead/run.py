"""Running the systems: start the shared backend and the peers, then every problem through every system, one
request at a time, the order rotated per problem, each run's compute read from the backend's meter. Outcomes go
to a journal as they come, so an interrupted bench resumes where it stopped."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
from openai import AsyncOpenAI
from rich.console import Console

from bench.headtohead.outcome import Outcome, SystemFn
from bench.headtohead.script import load_script
from bench.headtohead.systems import ALIAS, KEY, k2think_system, optillm_system, reference_system, script_system
from bench.headtohead.workload import Workload, sampling_seed
from bench.peers import processes
from k2core.config import Settings
from k2core.data import Problem
from k2core.eval.harness import drop_torn_tail
from k2core.models import ensure_embedded_model
from k2core.pipeline import SolveRequest
from k2core.types import SolveResult
from services.settings import ServiceSettings

console = Console(stderr=True)


@dataclass(frozen=True)
class Lineup:
    """Which systems run, on what, with which backend shape."""

    systems: tuple[str, ...]
    work: Workload
    slots: int
    n_ctx: int
    threads: int | None = None
    reference_script: Path | None = None


class Journal:
    """Outcomes as JSON lines after a header line holding the settings; a journal whose header differs is
    started over, unless it is only ``read``. A last line torn by a kill mid-write is cut off (that run is redone)."""

    def __init__(self, path: Path, header: dict[str, Any], read: bool = False) -> None:
        self.path = path
        self.done: dict[str, list[Outcome]] = {}
        if not read:
            drop_torn_tail(path)
        text = path.read_text() if path.exists() else ""
        lines = text.splitlines() if text.endswith("\n") else text.splitlines()[:-1]  # read only: a line in writing
        if lines and json.loads(lines[0]) == header:
            for line in lines[1:]:
                row = json.loads(line)
                self.done.setdefault(row.pop("system"), []).append(Outcome(**row))
        elif read:
            raise ValueError(f"--from-journal: {path} holds no run with these settings")
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(header) + "\n")

    def has(self, system: str, problem_id: str, round_no: int) -> bool:
        return any(o.problem_id == problem_id and o.round == round_no for o in self.done.get(system, []))

    def add(self, system: str, outcome: Outcome) -> None:
        self.done.setdefault(system, []).append(outcome)
        with self.path.open("a") as sink:
            sink.write(json.dumps({"system": system, **asdict(outcome)}) + "\n")


@dataclass
class BackendMeter:
    """The backend's running totals (``GET /usage``)."""

    root: str
    client: httpx.AsyncClient = field(default_factory=lambda: httpx.AsyncClient(timeout=10.0))

    async def read(self) -> dict[str, int]:
        return (await self.client.get(f"{self.root}/usage")).json()


async def measured(system: SystemFn, problem: Problem, seed: int, meter: BackendMeter) -> Outcome:
    """One run with its wall time and the calls and tokens the backend served for it; a failure is recorded."""
    before = await meter.read()
    start = time.perf_counter()
    try:
        outcome = await system(problem, seed)
    except Exception as exc:  # noqa: BLE001 - one failed request is a recorded error, not a dead bench
        outcome = Outcome(error=f"{type(exc).__name__}: {exc}")
    outcome.seconds = time.perf_counter() - start
    after = await meter.read()
    outcome.calls = after["requests"] - before["requests"]
    outcome.prompt_tokens = after["prompt_tokens"] - before["prompt_tokens"]
    outcome.completion_tokens = after["completion_tokens"] - before["completion_tokens"]
    return outcome


async def interleaved(
    systems: dict[str, SystemFn], problems: list[Problem], seed: int, rounds: int, journal: Journal,
    run: Callable[[SystemFn, Problem, int], Awaitable[Outcome]],
) -> dict[str, list[Outcome]]:  # fmt: skip
    """Every problem through every system, ``rounds`` times with fresh sampling seeds, one request at a time, the
    order rotated per problem (the backend's prompt cache favours whoever follows a system with the same prompt);
    runs already in the journal are skipped."""
    names = list(systems)
    total = rounds * len(problems)
    for round_no in range(rounds):
        for i, problem in enumerate(problems):
            step = round_no * len(problems) + i
            for name in names[step % len(names) :] + names[: step % len(names)]:
                if journal.has(name, problem.id, round_no):
                    continue
                outcome = await run(systems[name], problem, sampling_seed(seed, round_no, i))
                outcome.problem_id, outcome.round = problem.id, round_no
                journal.add(name, outcome)
                mark = outcome.error or ("right" if outcome.correct else "wrong")
                console.print(f"[{step + 1}/{total}] {name}: {mark} in {outcome.seconds:.1f} s, "
                              f"{outcome.completion_tokens} tokens")  # fmt: skip
    return {name: journal.done.get(name, []) for name in names}


async def warm_up(backend_url: str) -> None:
    """One short request so model loading counts against no system."""
    async with AsyncOpenAI(base_url=backend_url, api_key=KEY) as client:
        await client.chat.completions.create(model=ALIAS, messages=[{"role": "user", "content": "Hi"}], max_tokens=8)


async def run_systems(
    lineup: Lineup, problems: list[Problem], seed: int, rounds: int, journal: Journal, logs: Path
) -> tuple[dict[str, list[Outcome]], dict[str, str]]:
    """Start the backend and the peers the lineup names, run the interleaved workload; outcomes and notes (how each
    system ran, or why it could not)."""
    notes: dict[str, str] = {}
    async with contextlib.AsyncExitStack() as stack:
        port = processes.free_port()
        model = ensure_embedded_model(Settings())
        child = processes.backend_server(model, port, ALIAS, logs / "backend.log", lineup.slots, lineup.n_ctx, lineup.threads)
        stack.enter_context(child)
        root = f"http://{processes.HOST}:{port}"
        await warm_up(f"{root}/v1")
        meter = BackendMeter(root)
        stack.push_async_callback(meter.client.aclose)
        systems = await _systems(stack, lineup, f"{root}/v1", logs, notes)
        outcomes = await interleaved(systems, problems, seed, rounds, journal, lambda s, p, sd: measured(s, p, sd, meter))
    return outcomes, notes


async def _systems(
    stack: contextlib.AsyncExitStack, lineup: Lineup, backend: str, logs: Path, notes: dict[str, str]
) -> dict[str, SystemFn]:
    """The wanted systems, in the lineup's order; a peer that cannot start is left out with a note."""
    systems: dict[str, SystemFn] = {}
    solve: Callable[[SolveRequest], Awaitable[SolveResult]] | None = None
    for name in lineup.systems:
        if name == "reference":
            systems[name] = reference_system(backend, lineup.work)
        elif name == "reference-script":
            if lineup.reference_script is None:
                notes[name] = "not run: give --reference-script PATH (a copy of K2-Think-Inference's main.py)"
                continue
            systems[name] = script_system(load_script(lineup.reference_script, backend, ALIAS, KEY))
        elif name == "optillm":
            try:
                proxy_port, log = processes.free_port(), logs / "optillm.log"
                proxy = processes.optillm_proxy(processes.setup_optillm(), backend, proxy_port, lineup.work.n, log)
                stack.enter_context(proxy)
                systems[name] = optillm_system(f"http://{processes.HOST}:{proxy_port}/v1", log, lineup.work)
            except (RuntimeError, TimeoutError, OSError) as exc:
                notes[name] = f"not run: {exc}"
        elif name in ("k2think", "k2think-adaptive"):
            try:
                solve = solve or await _k2think_gateway(stack, backend, logs)
            except (RuntimeError, TimeoutError, OSError) as exc:
                notes[name] = f"not run: {exc}"
                continue
            systems[name] = k2think_system(solve, lineup.work, adaptive=name.endswith("adaptive"))
        else:
            raise ValueError(f"systems: unknown system {name!r}")
    return systems


async def _k2think_gateway(
    stack: contextlib.AsyncExitStack, backend: str, logs: Path
) -> Callable[[SolveRequest], Awaitable[SolveResult]]:
    """The gateway's Solve of ``k2think up``, every role on the ``openai`` engine at the backend, with the engines'
    request timeout raised to the reference's hard timeout (a loaded CPU backend is slow, not broken)."""
    from services.remote import ReasonerClient

    timeouts = {f"K2_{role}__TIMEOUT_S": "7200" for role in ("PLANNER", "SOLVER", "JUDGE")}
    child, address = processes.k2think_stack(backend, ALIAS, logs / "k2think_stack.log", timeouts)
    stack.enter_context(child)
    client = ReasonerClient(address, ServiceSettings())
    stack.push_async_callback(client.close)
    return client.solve
