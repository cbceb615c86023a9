"""The command line: parse the options, run, write ``bench/results/<name>.{json,md,png}``."""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
from pathlib import Path
from typing import Any

from bench.headtohead import report, stats
from bench.headtohead.run import Journal, Lineup, console, run_systems
from bench.headtohead.workload import DATASET, Workload, load_problems
from bench.paths import RESULTS
from bench.peers import processes

SYSTEMS = ("reference", "reference-script", "optillm", "k2think", "k2think-adaptive")
DEFAULT_SYSTEMS = "reference,optillm,k2think"
_RESUME_KEYS = ("dataset", "limit", "seed", "n", "max_tokens", "temperature", "top_p", "reference_max_tokens", "slots",
                "n_ctx", "reference_script")  # fmt: skip


def parser() -> argparse.ArgumentParser:
    """The options, each with its default."""
    p = argparse.ArgumentParser(
        prog="python -m bench.headtohead_bench",
        description="Head-to-head on one concurrent backend: k2think vs the K2-Think reference flow vs optillm best-of-n.",
    )
    p.add_argument("--dataset", default=DATASET, help="problems to draw from (a file dataset or gen:NAME)")
    p.add_argument("--limit", type=int, default=100, help="size of the fixed seeded subset of problems")
    p.add_argument("--rounds", type=int, default=2, help="run the problems this many times, fresh seeds each")
    p.add_argument("--seed", type=int, default=0, help="draws the subset and the sampling seeds")
    p.add_argument("--n", type=int, default=3, help="candidates per request (every system)")
    p.add_argument("--max-tokens", type=int, default=1024, help="cap per candidate of k2think and optillm")
    p.add_argument("--reference-max-tokens", type=int, default=None,
                   help="cap per reference solver call (default none, as main.py sets none)")
    p.add_argument("--temperature", type=float, default=1.0, help="candidate temperature (the reference's solver uses 1.0)")
    p.add_argument("--top-p", type=float, default=0.95, help="candidate top-p of k2think and optillm")
    p.add_argument("--systems", default=DEFAULT_SYSTEMS, help=f"comma-separated, of: {', '.join(SYSTEMS)}")
    p.add_argument("--reference-script", type=Path, default=None,
                   help="a copy of K2-Think-Inference's main.py: also run it, unchanged (system reference-script)")
    p.add_argument("--slots", type=int, default=None, help="sequences the backend decodes together (default 2×N)")
    p.add_argument("--n-ctx", type=int, default=4096, help="backend context tokens per slot")
    p.add_argument("--threads", type=int, default=None, help="backend llama.cpp threads (default half the CPUs)")
    p.add_argument("--name", default="headtohead", help="results file stem")
    p.add_argument("--out", type=Path, default=RESULTS, help="results directory (default bench/results)")
    p.add_argument("--fresh", action="store_true", help="ignore the journal of an earlier run with these settings")
    p.add_argument("--from-journal", action="store_true",
                   help="run nothing: write the results from the journal so far (a run still going, or cut off)")
    return p


def settings_of(args: argparse.Namespace) -> dict[str, Any]:
    """The options as recorded in the results, with the defaults resolved; bad values name their option."""
    systems = [s for s in args.systems.split(",") if s]
    if args.reference_script is not None and "reference-script" not in systems:
        systems.append("reference-script")
    unknown = [s for s in systems if s not in SYSTEMS]
    if unknown:
        raise ValueError(f"--systems: unknown {', '.join(unknown)}; choose from {', '.join(SYSTEMS)}")
    for option, value in (("--rounds", args.rounds), ("--n", args.n), ("--limit", args.limit)):
        if value < 1:
            raise ValueError(f"{option}: must be at least 1, got {value}")
    slots = args.slots or 2 * args.n
    if slots < args.n:
        raise ValueError(f"--slots: must be at least --n ({args.n}) so a request's candidates decode together")
    return {
        "name": args.name, "dataset": args.dataset, "limit": args.limit, "rounds": args.rounds, "seed": args.seed,
        "n": args.n, "max_tokens": args.max_tokens, "reference_max_tokens": args.reference_max_tokens,
        "temperature": args.temperature, "top_p": args.top_p, "systems": systems, "slots": slots, "n_ctx": args.n_ctx,
        "threads": args.threads, "reference_script": None if args.reference_script is None else str(args.reference_script),
        "backend": "bench.headtohead.backend (k2core embedded engine, continuous batching)",
    }  # fmt: skip


def journal_header(settings: dict[str, Any]) -> dict[str, Any]:
    """The settings a journal must share to be resumed (rounds and systems may grow)."""
    return {key: settings[key] for key in _RESUME_KEYS}


def main(argv: list[str]) -> int:
    """Run the bench (resuming a journal of the same settings) and write the results."""
    cli = parser()
    args = cli.parse_args(argv)
    journal_path = args.out / f"{args.name}.journal.jsonl"
    if args.fresh:
        journal_path.unlink(missing_ok=True)
    try:
        settings = settings_of(args)
        problems = load_problems(args.dataset, args.limit, args.seed)
        journal = Journal(journal_path, journal_header(settings), read=args.from_journal)
    except ValueError as exc:
        cli.error(str(exc))
    work = Workload(n=args.n, max_tokens=args.max_tokens, temperature=args.temperature, top_p=args.top_p,
                    reference_max_tokens=args.reference_max_tokens)  # fmt: skip
    lineup = Lineup(systems=tuple(settings["systems"]), work=work, slots=settings["slots"], n_ctx=args.n_ctx,
                threads=args.threads, reference_script=args.reference_script)  # fmt: skip
    if args.from_journal:
        outcomes = {name: journal.done.get(name, []) for name in lineup.systems}
        done = sum(map(len, outcomes.values()))
        total = len(problems) * args.rounds * len(lineup.systems)
        notes = {"partial" if done < total else "complete": f"written from the journal: {done} of {total} runs"}
    else:
        processes.exit_on_sigterm()
        logs = Path(tempfile.mkdtemp(prefix="k2think-headtohead-"))
        console.print(f"process logs: {logs}; journal: {journal_path}")
        outcomes, notes = asyncio.run(run_systems(lineup, problems, args.seed, args.rounds, journal, logs))
    rows = stats.table(outcomes)
    workload = (f"{len(problems)} problems of {args.dataset} (a fixed subset drawn with seed {args.seed}) × "
                f"{args.rounds} rounds with fresh sampling seeds, N={args.n}, one request at a time, systems interleaved")  # fmt: skip
    counted = None
    if any(o.error is not None for runs in outcomes.values() for o in runs):
        counted = stats.verdict(stats.table(stats.failures_as_wrong(outcomes)))
        if counted is not None:
            notes["failed runs counted"] = ("each failed run as a wrong answer with the time and tokens it spent: "
                                            f"{report.verdict_text(counted)}")  # fmt: skip
    doc = report.document(settings, workload, rows, stats.verdict(rows), outcomes, notes, counted)
    (args.out / f"{args.name}.json").write_text(json.dumps(doc, indent=2))
    png = report.plot(doc, args.out / f"{args.name}.png")
    text = report.markdown(doc, png.name)
    (args.out / f"{args.name}.md").write_text(text + "\n")
    console.print(text)
    return 0
