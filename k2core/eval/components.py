"""The paper's component table: base sampling, +plan, +best-of-N, both, on the same problems per dataset."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from k2core.eval.harness import NO_PROGRESS, EvalSpec, Progress, SolveFn, run_eval
from k2core.eval.reports import write_components
from k2core.eval.summary import summarize

# arm name -> (folder, plan, best-of-N)
ARMS: dict[str, tuple[str, bool, bool]] = {
    "base": ("base", False, False),
    "+plan": ("plan", True, False),
    "+best-of-N": ("bon", False, True),
    "both": ("both", True, True),
}


def arm_spec(template: EvalSpec, plan: bool, best_of_n: bool) -> EvalSpec:
    """One arm from the template: best-of-N keeps its N with the judge, otherwise one candidate and no judge."""
    return replace(template, plan=plan, n=template.n if best_of_n else 1, judge=best_of_n and template.judge)


async def run_components(
    datasets: list[str],
    template: EvalSpec,
    solve: SolveFn,
    out: Path,
    concurrency: int = 2,
    progress: Progress = NO_PROGRESS,
) -> dict[str, dict[str, dict[str, Any]]]:
    """Run every arm on every dataset (resumable under ``out/components/``); write the report; return summaries."""
    summaries: dict[str, dict[str, dict[str, Any]]] = {}
    for dataset in datasets:
        base = replace(template, dataset=dataset)
        problems = base.problems()
        summaries[dataset] = {}
        for arm, (folder, plan, best_of_n) in ARMS.items():
            spec = arm_spec(base, plan, best_of_n)
            folder_path = out / "components" / dataset.replace(":", "-") / folder
            records = await run_eval(problems, spec, solve, folder_path, concurrency, progress)
            summaries[dataset][arm] = summarize(records, spec)
    write_components(out, summaries)
    return summaries
