"""Verifier throughput: math verifications/s and sandboxed executions/s with 2 sandbox workers.

Workload: every gold answer of math500, aime24, aime25 and amc23 graded twice (``\\boxed{gold}`` and a
neighbour's answer) by the math grader on the main thread, first with math-verify parses uncached, then again
with them cached (as when N rollouts repeat an answer); the 164 HumanEval canonical solutions graded in the
sandbox (8 caller threads, 2 sandbox workers; each grading is a judge and a candidate sandbox joined by a
socket); and 200 runs of a trivial program (the sandbox's fixed cost).
Writes ``bench/results/verify.json``.

    python -m bench.verify_bench [--limit N]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from rich.console import Console
from rich.progress import Progress

from bench.paths import RESULTS
from k2core.data import Problem, load_dataset
from k2core.verify import get_grader
from k2core.verify.domains.code import CodeGrader
from k2core.verify.domains.math import _parse as math_parse
from k2core.verify.sandbox import Sandbox, SandboxSettings

MATH_SETS = ("math500", "aime24", "aime25", "amc23")
WORKERS = 2
CALLERS = 8
TRIVIAL_RUNS = 200
console = Console(stderr=True)


def _timed(progress: Progress, label: str, jobs: Sequence[Callable[[], bool]], threads: int = 1) -> dict[str, Any]:
    """Run jobs (each returns whether it met expectation) with a progress bar; count, seconds, rate, misses."""
    task = progress.add_task(label, total=len(jobs))

    def run(job: Callable[[], bool]) -> bool:
        ok = job()
        progress.advance(task)
        return ok

    started = time.perf_counter()
    if threads == 1:
        outcomes = [run(job) for job in jobs]
    else:
        with ThreadPoolExecutor(threads) as pool:
            outcomes = list(pool.map(run, jobs))
    seconds = time.perf_counter() - started
    return {
        "count": len(jobs),
        "seconds": round(seconds, 3),
        "per_s": round(len(jobs) / seconds, 2),
        "unexpected": outcomes.count(False),
    }


def math_jobs(limit: int | None) -> list[Callable[[], bool]]:
    """Gold vs itself (expect correct) and gold vs the next non-equivalent answer (expect incorrect)."""
    grader = get_grader("math")
    jobs: list[Callable[[], bool]] = []
    for name in MATH_SETS:
        golds = [p.answer for p in load_dataset(name, limit=limit)]
        for i, gold in enumerate(golds):
            other = next((g for g in golds[i + 1 :] + golds[:i] if not grader.same_answer(g, gold)), "-1")
            jobs.append(lambda g=gold: grader.grade(f"The answer is $\\boxed{{{g}}}$.", g).correct)
            jobs.append(lambda g=gold, o=other: not grader.grade(f"\\boxed{{{o}}}", g).correct)
    return jobs


def code_jobs(problems: list[Problem], grader: CodeGrader) -> list[Callable[[], bool]]:
    """HumanEval canonical solutions (prompt + solution in a fence): each is one linked judge/candidate run."""

    def job(problem: Problem) -> Callable[[], bool]:
        program = json.loads(problem.answer)["prompt"] + problem.meta["canonical_solution"]
        return lambda: grader.grade(f"```python\n{program}\n```", problem.answer).correct

    return [job(p) for p in problems]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=None, help="rows per dataset (default: all)")
    args = parser.parse_args(argv)
    load = round(os.getloadavg()[0], 2)  # other work on the machine skews the rates: record it
    settings = SandboxSettings(max_parallel=WORKERS)
    sandbox = Sandbox(settings)
    grader = CodeGrader(sandbox)
    humaneval = load_dataset("humaneval", limit=args.limit)
    figures: dict[str, Any] = {}
    jobs = math_jobs(args.limit)
    with Progress(console=console) as progress:
        math_parse.cache_clear()  # choosing neighbours parsed every answer: start cold
        math = _timed(progress, "math verifications", jobs)
        math_warm = _timed(progress, "math verifications (parses cached)", jobs)
        code = _timed(progress, "HumanEval in sandbox", code_jobs(humaneval, grader), threads=CALLERS)
        trivial = _timed(
            progress, "trivial sandbox runs", [lambda: sandbox.run_sync("print(1)").ok] * TRIVIAL_RUNS, threads=CALLERS
        )
    figures["math verifications/s"] = math["per_s"]
    figures["math verifications/s, answers seen before"] = math_warm["per_s"]
    figures["sandboxed HumanEval gradings/s (2 workers)"] = code["per_s"]
    figures["sandboxed trivial executions/s (2 workers)"] = trivial["per_s"]
    figures["unexpected outcomes"] = sum(r["unexpected"] for r in (math, math_warm, code, trivial))
    doc = {
        "name": "verify",
        "workload": (
            f"math: gold and a neighbour's answer for every {'/'.join(MATH_SETS)} item ({math['count']} gradings, "
            f"main thread); code: {code['count']} HumanEval canonical solutions in the sandbox from {CALLERS} "
            f"threads; {trivial['count']} runs of print(1)"
        ),
        "settings": {"sandbox": sandbox.info(), "callers": CALLERS, "limit": args.limit},
        "figures": figures,
        "runs": {"math": math, "math_warm": math_warm, "humaneval": code, "trivial": trivial},
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_average_1m_at_start": load,
        },
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / "verify.json"
    out.write_text(json.dumps(doc, indent=2) + "\n")
    for key, value in figures.items():
        console.print(f"{key}: [bold]{value}[/]")
    console.print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
