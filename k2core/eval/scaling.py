"""Scaling with N: wall time and tokens per request for N in 1, 2, 3, 5, 8 on the same problems."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from k2core.eval import metrics
from k2core.eval.harness import NO_PROGRESS, EvalSpec, Progress, RunRecord, SolveFn, run_eval
from k2core.eval.reports import write_scaling

DEFAULT_NS = (1, 2, 3, 5, 8)


def scaling_row(n: int, records: Sequence[RunRecord]) -> dict[str, Any]:
    """Means over one N's successful requests: wall seconds, all-role tokens, completion tokens, accuracy."""
    ok = [r for r in records if r.error is None]
    total = [r.usage["total"] for r in ok if "total" in r.usage]
    return {
        "n": n,
        "requests": len(ok),
        "wall_s_per_request": metrics.mean_or_zero([r.seconds for r in ok]),
        "tokens_per_request": metrics.mean_or_zero([u.prompt_tokens + u.completion_tokens for u in total]),
        "completion_tokens_per_request": metrics.mean_or_zero([u.completion_tokens for u in total]),
        "judge_calls_per_request": metrics.mean_or_zero([r.usage["judge"].calls for r in ok if "judge" in r.usage]),
        "accuracy": metrics.mean_or_zero([float(r.correct) for r in ok]),
    }


async def run_scaling(
    template: EvalSpec, solve: SolveFn, out: Path, ns: Sequence[int] = DEFAULT_NS, progress: Progress = NO_PROGRESS
) -> list[dict[str, Any]]:
    """One request at a time (so wall time is per request) for each N, resumable under ``out/scaling/``."""
    problems = template.problems()
    rows = []
    for n in ns:
        spec = replace(template, n=n, k=1)
        records = await run_eval(problems, spec, solve, out / "scaling" / f"n{n}", concurrency=1, progress=progress)
        rows.append(scaling_row(n, records))
    about = (
        f"{len(problems)} problems of {template.dataset}, one request at a time, "
        f"plan {'on' if template.plan else 'off'}, judge {'on' if template.judge else 'off'}, "
        f"max tokens {template.max_tokens}, temperature {template.temperature}."
    )
    write_scaling(out, rows, about)
    return rows
