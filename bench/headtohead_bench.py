"""Head-to-head on one llama.cpp server: the K2-Think reference flow, optillm's best-of-n proxy, and k2think.

Workload: 30 seeded ``gen:arith`` problems (``--limit`` for quick runs), N=3, temperature 1.0 (the paper's
protocol; ``--temperature`` to change it), top-p 0.95, 6 worked
examples shown before each problem (the embedded model is a base model: without them it answers nothing), max
tokens 256 per candidate (``--max-tokens``), 96 per planner call and 64 per verdict for every system alike,
against one ``python -m llama_cpp.server`` with the embedded model on a free port. The reference flow plans per
sample, as the public reference does (see ``bench/reference_flow.py``). One request at a
time, the systems interleaved per problem in rotating order (background load and llama.cpp's prompt cache hit
each alike), after a warm-up request. k2think runs through the gateway of ``k2think up`` (every role on the
``openai`` engine at the llama.cpp server), in its default configuration and with adaptive N; the in-process
pipeline stands in only when the stack cannot start.
Writes ``bench/results/headtohead.json`` and ``headtohead.md``; a system that cannot run is recorded with why.

``--rounds R`` runs the same problems R times with fresh sampling seeds (the paper's average of k pass@1), so an
accuracy difference of a few problems can be told from sampling noise: accuracies come with 95% bootstrap
intervals over problems, and each system's difference to k2think with a paired interval.

    python -m bench.headtohead_bench [--limit 30] [--n 3] [--max-tokens 256] [--fewshot 6] [--rounds 1]
        [--systems reference,k2think] [--name headtohead]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import re
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import llama_cpp
from openai import AsyncOpenAI
from rich.console import Console

from bench.peers import processes
from bench.reference_flow import FlowSettings, ReferenceFlow
from k2core import verify
from k2core.config import Settings
from k2core.data import Problem, load_dataset
from k2core.data.demonstrations import demonstrations
from k2core.eval.metrics import bootstrap_ci, oracle, paired_differences
from k2core.eval.reports import markdown_table
from k2core.models import ensure_embedded_model
from k2core.pipeline import Pipeline, SolveRequest
from k2core.pipeline.solver import solver_messages
from k2core.types import Demonstration, SamplingParams, SolveResult

RESULTS = Path(__file__).resolve().parent / "results"
SYSTEMS = ("reference", "optillm", "k2think", "k2think-adaptive")
BASELINE = "k2think"
ALIAS = "gemma-3-270m-it"
KEY = "sk-local-bench"
_OPTILLM_SAMPLES = re.compile(r"Generated (\d+) (?:initial )?completions")
console = Console(stderr=True)


@dataclass
class Outcome:
    """One system on one problem."""

    correct: bool = False
    seconds: float = 0.0
    prompt_tokens: int | None = 0
    completion_tokens: int = 0
    judge_calls: int = 0
    candidates: int | None = None
    error: str | None = None
    problem_id: str = ""
    round: int = 0
    candidates_correct: list[bool] | None = None


SystemFn = Callable[[Problem, int], Awaitable[Outcome]]


def graded(problem: Problem, text: str) -> bool:
    """Whether ``text`` answers ``problem`` correctly."""
    return verify.grade(problem.domain, text, problem.answer).correct


@dataclass(frozen=True)
class Workload:
    """What every system is given alike: N, token limits per role, and the few-shot demonstrations."""

    n: int
    max_tokens: int
    plan_max_tokens: int
    judge_max_tokens: int
    demonstrations: tuple[Demonstration, ...] = ()
    temperature: float = 1.0
    top_p: float = 0.95

    def settings_env(self) -> dict[str, str]:
        """The same limits for the k2think stack, as settings variables."""
        return {
            "K2_PIPELINE__PLAN_MAX_TOKENS": str(self.plan_max_tokens),
            "K2_PIPELINE__JUDGE_MAX_TOKENS": str(self.judge_max_tokens),
        }


def reference_system(backend_url: str, work: Workload) -> SystemFn:
    """(a) The reference control flow: planner, N parallel solver calls, linear judge chain."""
    settings = FlowSettings(
        model=ALIAS, n=work.n, max_tokens=work.max_tokens, plan_max_tokens=work.plan_max_tokens,
        judge_max_tokens=work.judge_max_tokens, demonstrations=work.demonstrations, temperature=work.temperature,
        top_p=work.top_p,
    )  # fmt: skip
    flow = ReferenceFlow(AsyncOpenAI(base_url=backend_url, api_key=KEY), settings)

    async def run(problem: Problem, seed: int) -> Outcome:
        start = time.perf_counter()
        result = await flow.run(problem.prompt, problem.domain, seed)
        return Outcome(
            correct=graded(problem, result.candidates[result.selected]),
            seconds=time.perf_counter() - start,
            prompt_tokens=result.prompt_tokens,
            completion_tokens=result.completion_tokens,
            judge_calls=result.judge_calls,
            candidates=len(result.candidates),
            candidates_correct=[graded(problem, text) for text in result.candidates],
        )

    return run


def optillm_system(proxy_url: str, log: Path, work: Workload) -> SystemFn:
    """(b) optillm's best-of-n through its proxy: the same solver prompt; samples and ratings read from its log."""
    client = AsyncOpenAI(base_url=proxy_url, api_key=KEY)

    async def run(problem: Problem, seed: int) -> Outcome:
        seen = _optillm_samples(log)
        start = time.perf_counter()
        turns = solver_messages(problem.prompt, None, problem.domain, work.demonstrations)
        messages = [m.model_dump() for m in turns]
        reply = await client.chat.completions.create(
            model=ALIAS, messages=messages, max_tokens=work.max_tokens, temperature=work.temperature,  # type: ignore[arg-type]
            top_p=work.top_p,
        )
        seconds = time.perf_counter() - start
        samples = _optillm_samples(log) - seen
        return Outcome(
            correct=graded(problem, reply.choices[0].message.content or ""),
            seconds=seconds,
            prompt_tokens=None,
            completion_tokens=reply.usage.completion_tokens if reply.usage else 0,
            judge_calls=samples,
            candidates=samples,
        )

    return run


def _optillm_samples(log: Path) -> int:
    """Completions optillm reports having sampled so far (each one is then rated by one model call)."""
    return sum(int(m) for m in _OPTILLM_SAMPLES.findall(log.read_text(errors="replace")))


def k2think_system(solve: Callable[[SolveRequest], Awaitable[SolveResult]], work: Workload, adaptive: bool) -> SystemFn:
    """(c) k2think: plan, best-of-N, verifier/majority/both-order knockout selection."""

    async def run(problem: Problem, seed: int) -> Outcome:
        params = SamplingParams(temperature=work.temperature, top_p=work.top_p, max_tokens=work.max_tokens, seed=seed)
        request = SolveRequest(
            problem=problem.prompt, n=work.n, params=params, domain=problem.domain, adaptive=adaptive,
            demonstrations=list(work.demonstrations),
        )  # fmt: skip
        start = time.perf_counter()
        result = await solve(request)
        chosen = next(c for c in result.candidates if c.index == result.selected)
        total = result.usage["total"]
        # A server that ignores stream_options.include_usage (llama_cpp.server) reports no prompt tokens for
        # streamed candidates (early majority streams them): the total is then unknown, not small.
        counted = all(c.prompt_tokens > 0 for c in result.candidates)
        return Outcome(
            correct=graded(problem, chosen.text),
            seconds=time.perf_counter() - start,
            prompt_tokens=total.prompt_tokens if counted else None,
            completion_tokens=total.completion_tokens,
            judge_calls=result.usage["judge"].calls,
            candidates=len(result.candidates),
            candidates_correct=[graded(problem, c.text) for c in result.candidates],
        )

    return run


def openai_settings(backend_url: str, work: Workload) -> Settings:
    """Settings with every role on the ``openai`` engine at the llama.cpp server, and the workload's limits."""
    settings = Settings()
    update = {"engine": "openai", "base_url": backend_url, "model": ALIAS, "api_key": KEY}
    roles: dict[str, Any] = {role: getattr(settings, role).model_copy(update=update) for role in ("planner", "solver", "judge")}
    limits = {"plan_max_tokens": work.plan_max_tokens, "judge_max_tokens": work.judge_max_tokens}
    roles["pipeline"] = settings.pipeline.model_copy(update=limits)
    return settings.model_copy(update=roles)


def per_problem_accuracy(outcomes: list[Outcome]) -> dict[str, float]:
    """Each problem's share of correct runs over the rounds it ran without error."""
    runs: dict[str, list[bool]] = {}
    for o in outcomes:
        if o.error is None:
            runs.setdefault(o.problem_id, []).append(o.correct)
    return {pid: sum(r) / len(r) for pid, r in runs.items()}


def aggregate(outcomes: list[Outcome]) -> dict[str, Any]:
    """Accuracy (with a 95% bootstrap interval over problems), the oracle over each run's candidates, mean wall
    seconds per run, summed tokens and judge calls, over the runs without error."""
    ok = [o for o in outcomes if o.error is None]
    count = max(1, len(ok))
    prompt = None if any(o.prompt_tokens is None for o in ok) else sum(o.prompt_tokens or 0 for o in ok)
    completion = sum(o.completion_tokens for o in ok)
    by_problem = per_problem_accuracy(outcomes)
    known = [o.candidates_correct for o in ok if o.candidates_correct is not None]
    rounds = sorted({o.round for o in ok})
    return {
        "problems": len(by_problem),
        "runs": len(ok),
        "errors": len(outcomes) - len(ok),
        "accuracy": sum(o.correct for o in ok) / count,
        "accuracy_ci95": list(bootstrap_ci(list(by_problem.values()))) if by_problem else None,
        "accuracy_per_round": [
            sum(o.correct for o in ok if o.round == r) / sum(1 for o in ok if o.round == r) for r in rounds
        ],
        "oracle": oracle(known) if known and len(known) == len(ok) else None,
        "wall_s_per_problem": sum(o.seconds for o in ok) / count,
        "total_tokens": None if prompt is None else prompt + completion,
        "completion_tokens": completion,
        "judge_calls": sum(o.judge_calls for o in ok),
        "judge_calls_per_problem": sum(o.judge_calls for o in ok) / count,
        "candidates_per_problem": sum(o.candidates or 0 for o in ok) / count,
    }


def with_ratios(
    table: dict[str, dict[str, Any]], outcomes: dict[str, list[Outcome]] | None = None
) -> dict[str, dict[str, Any]]:
    """Each system's time, tokens and judge calls as multiples of k2think's (k2think = 1.0), and its accuracy minus
    k2think's; with ``outcomes``, that difference also over the problems both ran, with a paired 95% interval."""
    base = table.get(BASELINE)
    if base is None or not base["problems"]:
        return table
    for name, row in table.items():
        row["time_vs_k2think"] = row["wall_s_per_problem"] / base["wall_s_per_problem"]
        row["completion_tokens_vs_k2think"] = row["completion_tokens"] / max(1, base["completion_tokens"])
        row["judge_calls_vs_k2think"] = row["judge_calls"] / max(1, base["judge_calls"])
        row["accuracy_minus_k2think"] = row["accuracy"] - base["accuracy"]
        if outcomes is not None and name in outcomes and BASELINE in outcomes:
            row["paired_vs_k2think"] = paired_vs_baseline(outcomes[name], outcomes[BASELINE])
    return table


def paired_vs_baseline(system: list[Outcome], baseline: list[Outcome]) -> dict[str, Any] | None:
    """Mean per-problem accuracy difference (system − baseline) over the problems both ran, with its paired 95%
    bootstrap interval: an interval holding 0 means the runs cannot tell the two apart."""
    mine, theirs = per_problem_accuracy(system), per_problem_accuracy(baseline)
    shared = [pid for pid in mine if pid in theirs]
    if not shared:
        return None
    diffs = paired_differences([mine[p] for p in shared], [theirs[p] for p in shared])
    return {"problems": len(shared), "difference": sum(diffs) / len(diffs), "ci95": list(bootstrap_ci(diffs))}


def verdict(table: dict[str, dict[str, Any]], speedup_target: float = 1.5) -> str | None:
    """The issue's target read off the table: k2think at least ``speedup_target``× faster than the reference flow
    at equal or better accuracy (by the point estimate, and whether the paired interval excludes a loss)."""
    ref, base = table.get("reference"), table.get(BASELINE)
    if ref is None or base is None or not ref["problems"] or not base["problems"]:
        return None
    speed = ref["wall_s_per_problem"] / base["wall_s_per_problem"]
    paired = ref.get("paired_vs_k2think")
    diff = -ref["accuracy_minus_k2think"]
    parts = [
        f"speed: k2think {speed:.2f}× faster than the reference flow ({'met' if speed >= speedup_target else 'NOT met'}"
        f", target ≥ {speedup_target}×)",
        f"accuracy: k2think {100 * base['accuracy']:.1f}% vs reference {100 * ref['accuracy']:.1f}% "
        f"({'equal or better' if diff >= -1e-12 else 'lower'} by the point estimate)",
    ]
    if paired is not None:
        low, high = _points(-paired["ci95"][1]), _points(-paired["ci95"][0])  # reference − k2think, turned round
        if low <= 0 <= high:
            within = "the interval holds 0: no difference the runs can resolve"
        else:
            within = "k2think better" if low > 0 else "k2think worse"
        parts.append(
            f"paired difference k2think − reference over {paired['problems']} problems: {_points(-paired['difference']):+.1f} "
            f"points, 95% CI [{low:+.1f}, {high:+.1f}] ({within})"
        )
    return "; ".join(parts)


def sampling_seed(seed: int, round_no: int, index: int) -> int:
    """The sampling seed of problem ``index`` in round ``round_no`` (round 0 keeps the single-round seeds)."""
    return seed * 1000 + index + 100_000 * round_no


async def interleaved(
    systems: dict[str, SystemFn], problems: list[Problem], seed: int, rounds: int = 1
) -> dict[str, list[Outcome]]:
    """Every problem through every system, ``rounds`` times with fresh sampling seeds, one request at a time, the
    order rotated per problem (llama.cpp's prompt cache favours whoever follows a system with the same prompt); a
    failed request is recorded."""
    results: dict[str, list[Outcome]] = {name: [] for name in systems}
    names = list(systems)
    total = rounds * len(problems)
    for round_no in range(rounds):
        for i, problem in enumerate(problems):
            step = round_no * len(problems) + i
            for name in names[step % len(names) :] + names[: step % len(names)]:
                start = time.perf_counter()
                try:
                    outcome = await systems[name](problem, sampling_seed(seed, round_no, i))
                except Exception as exc:  # noqa: BLE001 - one failed request is a recorded error, not a dead bench
                    outcome = Outcome(seconds=time.perf_counter() - start, error=f"{type(exc).__name__}: {exc}")
                outcome.problem_id, outcome.round = problem.id, round_no
                results[name].append(outcome)
                mark = "error" if outcome.error else ("right" if outcome.correct else "wrong")
                console.print(f"[{step + 1}/{total}] {name}: {mark} in {outcome.seconds:.1f} s")
    return results


async def warm_up(backend_url: str) -> None:
    """One short request so model loading does not count against the first system."""
    client = AsyncOpenAI(base_url=backend_url, api_key=KEY)
    await client.chat.completions.create(model=ALIAS, messages=[{"role": "user", "content": "Hi"}], max_tokens=8)


async def run_bench(args: argparse.Namespace, logs: Path) -> dict[str, Any]:
    """Start the backend and the peers, run the interleaved workload, return the results document."""
    wanted = [s for s in args.systems.split(",") if s]
    problems = load_dataset("gen:arith", args.limit, args.seed)
    work = Workload(
        n=args.n, max_tokens=args.max_tokens, plan_max_tokens=args.plan_max_tokens,
        judge_max_tokens=args.judge_max_tokens, temperature=args.temperature,
        demonstrations=tuple(demonstrations("gen:arith", args.fewshot, problems, args.seed)),
    )  # fmt: skip
    notes: dict[str, str] = {}
    async with contextlib.AsyncExitStack() as stack:
        port = processes.free_port()
        model = ensure_embedded_model(Settings())
        stack.enter_context(processes.llama_server(model, port, ALIAS, logs / "llama_server.log"))
        backend = f"http://{processes.HOST}:{port}/v1"
        await warm_up(backend)
        systems: dict[str, SystemFn] = {}
        if "reference" in wanted:
            systems["reference"] = reference_system(backend, work)
        if "optillm" in wanted:
            try:
                proxy_port, log = processes.free_port(), logs / "optillm.log"
                stack.enter_context(processes.optillm_proxy(processes.setup_optillm(), backend, proxy_port, args.n, log))
                systems["optillm"] = optillm_system(f"http://{processes.HOST}:{proxy_port}/v1", log, work)
            except (RuntimeError, TimeoutError, OSError) as exc:
                notes["optillm"] = f"not run: {exc}"
        k2_wanted = [s for s in ("k2think", "k2think-adaptive") if s in wanted]
        if k2_wanted:
            solve, how = await _k2think_solver(stack, backend, logs, work)
            notes["k2think"] = how
            for name in k2_wanted:
                systems[name] = k2think_system(solve, work, adaptive=name.endswith("adaptive"))
        outcomes = await interleaved(systems, problems, args.seed, args.rounds)
    table = with_ratios({name: aggregate(rows) for name, rows in outcomes.items()}, outcomes)
    if "optillm" in table and work.demonstrations:
        notes["optillm demonstrations"] = (
            "optillm's proxy flattens the chat into one user turn ('User: … Assistant: …'), so the worked examples "
            "reach the model as a transcript, not as solved turns"
        )
    if "optillm" in table and table["optillm"]["candidates_per_problem"] < args.n:
        notes["optillm"] = (
            f"sampled {table['optillm']['candidates_per_problem']:.1f} candidates per problem, not {args.n}: its best-of-n "
            "asks for n completions in one call and llama_cpp.server ignores n, so it rates the one it gets"
        )
    return document(args, table, outcomes, notes)


async def _k2think_solver(
    stack: contextlib.AsyncExitStack, backend: str, logs: Path, work: Workload
) -> tuple[Callable[[SolveRequest], Awaitable[SolveResult]], str]:
    """The gateway's Solve (``k2think up``), or the in-process pipeline with the reason the stack could not start."""
    from services.remote import ReasonerClient

    try:
        child, address = processes.k2think_stack(backend, ALIAS, logs / "k2think_stack.log", work.settings_env())
        stack.enter_context(child)
        client = ReasonerClient(address, Settings())
        stack.push_async_callback(client.close)
        return client.solve, f"through the gateway at {address} (k2think up, openai engine)"
    except (RuntimeError, TimeoutError, OSError) as exc:
        pipeline = await stack.enter_async_context(Pipeline.in_process(openai_settings(backend, work)))
        return pipeline.solve, f"in-process pipeline with the openai engine; the stack did not start: {exc}"


def document(
    args: argparse.Namespace, table: dict[str, dict[str, Any]], outcomes: dict[str, list[Outcome]], notes: dict[str, str]
) -> dict[str, Any]:
    """The results JSON: workload, settings, figures (flat), per-system table and per-problem outcomes."""
    figures: dict[str, Any] = {}
    for name, row in table.items():
        figures |= {f"{name} accuracy": row["accuracy"], f"{name} wall s/problem": row["wall_s_per_problem"]}
        figures |= {f"{name} judge calls": row["judge_calls"], f"{name} completion tokens": row["completion_tokens"]}
    if "reference" in table and BASELINE in table and table[BASELINE]["wall_s_per_problem"]:
        figures["k2think speedup over reference"] = table["reference"]["wall_s_per_problem"] / table[BASELINE]["wall_s_per_problem"]
    rounds = f", {args.rounds} rounds with fresh sampling seeds" if args.rounds > 1 else ""
    return {
        "name": args.name,
        "workload": f"{args.limit} seeded gen:arith problems (seed {args.seed}){rounds}, one request at a time, "
        "systems interleaved",
        "settings": {
            "n": args.n, "max_tokens": args.max_tokens, "plan_max_tokens": args.plan_max_tokens,
            "judge_max_tokens": args.judge_max_tokens, "fewshot": args.fewshot, "temperature": args.temperature, "top_p": 0.95,
            "rounds": args.rounds, "backend": "llama_cpp.server",
        },  # fmt: skip
        "figures": figures,
        "verdict": verdict(table),
        "systems": table,
        "notes": notes,
        "outcomes": {name: [asdict(o) for o in rows] for name, rows in outcomes.items()},
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "llama_cpp_python": llama_cpp.__version__,
        },
    }


def markdown(doc: dict[str, Any]) -> str:
    """The results as a markdown table with ratios against k2think."""
    headers = [
        "system", "problems × rounds", "errors", "accuracy (95% CI)", "oracle", "vs k2think (paired 95% CI)",
        "wall s / problem", "total tokens", "completion tokens", "judge calls", "candidates / problem", "time vs k2think",
    ]  # fmt: skip
    rows = [
        [
            name, f"{r['problems']} × {len(r.get('accuracy_per_round', [])) or 1}", r["errors"], _accuracy_cell(r),
            "—" if r.get("oracle") is None else f"{100 * r['oracle']:.1f}%", _paired_cell(r.get("paired_vs_k2think")),
            r["wall_s_per_problem"], r["total_tokens"], r["completion_tokens"], r["judge_calls"],
            r["candidates_per_problem"], r.get("time_vs_k2think"),
        ]
        for name, r in doc["systems"].items()
    ]  # fmt: skip
    notes = [f"- {name}: {text}" for name, text in doc["notes"].items()]
    return "\n\n".join(
        [
            "# Head-to-head",
            f"Workload: {doc['workload']}. Settings: {json.dumps(doc['settings'])}. Date: {doc['date']}.",
            markdown_table(headers, rows),
            "Figures are over the problems each system answered without error. Total tokens include prompt tokens; "
            "optillm's proxy reports completion tokens only, and llama_cpp.server reports none for streamed "
            "requests (k2think streams candidates for early majority), so those totals are unknown (—). Judge calls: the reference's pairwise chain, optillm's "
            "per-candidate ratings, k2think's both-order knockout (skipped when a strict majority agrees). The "
            "reference flow plans per sample (a topics call, and a plan call when it judges the problem hard).",
            f"**Target** (k2think ≥ 1.5× faster than the reference flow at equal or better accuracy): {doc['verdict']}."
            if doc.get("verdict") else "",
            "\n".join(notes),
        ]
    )


def _points(share: float) -> float:
    """A share as percentage points to one decimal, without a float-noise "-0.0"."""
    return round(100 * share, 1) + 0.0


def _accuracy_cell(row: dict[str, Any]) -> str:
    """Accuracy with its bootstrap interval, in percent."""
    ci = row.get("accuracy_ci95")
    text = f"{100 * row['accuracy']:.1f}%"
    return text if ci is None else f"{text} [{100 * ci[0]:.0f}, {100 * ci[1]:.0f}]"


def _paired_cell(paired: dict[str, Any] | None) -> str:
    """A paired difference to k2think with its interval, in points."""
    if paired is None:
        return "—"
    low, high = paired["ci95"]
    points = [_points(x) for x in (paired["difference"], low, high)]
    return f"{points[0]:+.1f} [{points[1]:+.1f}, {points[2]:+.1f}]"


def main(argv: list[str]) -> int:
    """Run the bench and write ``bench/results/headtohead.{json,md}``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=30)
    parser.add_argument("--n", type=int, default=3)
    parser.add_argument("--max-tokens", type=int, default=256)
    parser.add_argument("--plan-max-tokens", type=int, default=96)
    parser.add_argument("--judge-max-tokens", type=int, default=64)
    parser.add_argument("--fewshot", type=int, default=6, help="worked gen:arith examples shown before each problem")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--temperature", type=float, default=1.0, help="sampling temperature of every system")
    parser.add_argument("--rounds", type=int, default=1, help="run the problems this many times, fresh seeds each")
    parser.add_argument("--systems", default=",".join(SYSTEMS))
    parser.add_argument("--name", default="headtohead", help="results file stem under bench/results")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    RESULTS.mkdir(parents=True, exist_ok=True)
    logs = Path(tempfile.mkdtemp(prefix="k2think-headtohead-"))
    console.print(f"process logs: {logs}")
    doc = asyncio.run(run_bench(args, logs))
    (RESULTS / f"{args.name}.json").write_text(json.dumps(doc, indent=2))
    (RESULTS / f"{args.name}.md").write_text(markdown(doc) + "\n")
    console.print(markdown(doc))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
