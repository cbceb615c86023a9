"""The paper's component table (Table 2 shape) and response lengths (Table 3 shape) from two selection studies on
the same problems, one with the plan and one without; every arm scores the same sampled candidates:

- base: pass@1 without the plan (the mean correctness of the N candidates, i.e. k = N single-sample runs);
- +plan: pass@1 with the plan;
- +best-of-N: k2think's selection (verifier → strict majority → both-order judge) among the N unplanned candidates;
- both: k2think's selection among the N planned candidates.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from k2core.eval import metrics
from k2core.eval.harness import NO_PROGRESS, Progress, SolveFn
from k2core.eval.reports import write_components
from k2core.eval.selection_study import StudyRecord, StudySpec, per_problem_scores, run_study
from k2core.roles import Judge

# arm -> (plan, selector of the selection study)
ARMS: dict[str, tuple[bool, str]] = {
    "base": (False, "pass@1"),
    "+plan": (True, "pass@1"),
    "+best-of-N": (False, "k2think"),
    "both": (True, "k2think"),
}


def study_folder(out: Path, dataset: str, plan: bool) -> Path:
    """Where the study of one dataset, with or without the plan, keeps its results (a selection-study folder)."""
    return out / "components" / dataset.replace(":", "-") / ("plan" if plan else "no-plan")


async def run_components(
    datasets: Sequence[str],
    template: StudySpec,
    solve: SolveFn,
    judge: Judge,
    out: Path,
    concurrency: int = 1,
    progress: Progress = NO_PROGRESS,
) -> dict[str, dict[str, Any]]:
    """Both studies on every dataset (resumable under ``out/components/``); write the report; return the summaries."""
    summaries: dict[str, dict[str, Any]] = {}
    for dataset in datasets:
        spec = replace(template, dataset=dataset)
        problems = spec.eval_spec().problems()
        studies = {}
        for plan in (False, True):
            arm_spec, folder = replace(spec, plan=plan), study_folder(out, dataset, plan)
            studies[plan] = await run_study(problems, arm_spec, solve, judge, folder, concurrency, progress)
        sampling = {"n": spec.n, "max_tokens": spec.max_tokens, "temperature": spec.temperature, "top_p": spec.top_p}
        summaries[dataset] = {**summarize_components(studies[False], studies[True]), **sampling}
    write_components(out, summaries)
    return summaries


def summarize_components(without_plan: Sequence[StudyRecord], with_plan: Sequence[StudyRecord]) -> dict[str, Any]:
    """Each arm's accuracy with a bootstrap interval and its paired difference to base, over the problems both
    studies finished; the response lengths with and without the plan."""
    paired = _paired(without_plan, with_plan)
    records = {False: [a for a, _ in paired], True: [b for _, b in paired]}
    scores = {plan: per_problem_scores(records[plan]) for plan in (False, True)}
    base = scores[False]["pass@1"]
    arms: dict[str, Any] = {}
    for arm, (plan, selector) in ARMS.items():
        values = scores[plan][selector]
        difference = metrics.paired_differences(values, base)
        arms[arm] = {
            "accuracy": metrics.mean_or_zero(values),
            "ci95": list(metrics.bootstrap_ci(values)) if values else None,
            "vs_base": metrics.mean_or_zero(difference),
            "vs_base_ci95": list(metrics.bootstrap_ci(difference)) if arm != "base" and values else None,
            "judge_calls_per_problem": metrics.mean_or_zero(
                [float(r.k2think.judge_calls) for r in records[plan] if r.k2think] if selector == "k2think" else []
            ),
            "response_tokens": _response_tokens(records[plan], selector),
        }
    lengths = {"no_plan": arms["base"]["response_tokens"], "plan": arms["+plan"]["response_tokens"]}
    change = lengths["plan"] / lengths["no_plan"] - 1 if lengths["no_plan"] else None
    return {"problems": len(paired), "arms": arms, "candidate_tokens": {**lengths, "plan_change": change}}


def _paired(
    without_plan: Sequence[StudyRecord], with_plan: Sequence[StudyRecord]
) -> list[tuple[StudyRecord, StudyRecord]]:
    """The problems both studies finished without error, in the first study's order."""
    finished = {r.problem_id: r for r in with_plan if _ok(r)}
    return [(r, finished[r.problem_id]) for r in without_plan if _ok(r) and r.problem_id in finished]


def _ok(record: StudyRecord) -> bool:
    return record.error is None and record.k2think is not None and record.linear is not None


def _response_tokens(records: Sequence[StudyRecord], selector: str) -> float:
    """Mean completion tokens of what the arm answers with: every candidate (pass@1) or the selected one."""
    if selector == "pass@1":
        return metrics.mean_or_zero([float(c.completion_tokens) for r in records for c in r.candidates])
    return metrics.mean_or_zero([float(r.candidates[r.k2think.index].completion_tokens) for r in records if r.k2think])
