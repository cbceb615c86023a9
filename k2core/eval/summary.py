"""The summary object of one eval run: accuracy metrics, response length, tokens and seconds per stage."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from functools import partial
from typing import Any

from k2core.eval import metrics
from k2core.eval.harness import EvalSpec, RunRecord
from k2core.pipeline.select import same_answer

ROLES = ("planner", "solver", "judge")
STAGES = ("plan", "solve", "select", "total")


def by_problem(records: Sequence[RunRecord]) -> dict[str, list[RunRecord]]:
    """Records grouped by problem, each group in run order."""
    groups: dict[str, list[RunRecord]] = {}
    for record in sorted(records, key=lambda r: r.run):
        groups.setdefault(record.problem_id, []).append(record)
    return groups


def summarize(records: Sequence[RunRecord], spec: EvalSpec, wall_s: float | None = None) -> dict[str, Any]:
    """The ``--json`` object: spec, counts, avg pass@1, pass@k, maj@k, oracle over candidates, lengths, cost."""
    groups = list(by_problem(records).values())
    ok = [r for r in records if r.error is None]
    correct = [[r.correct for r in runs] for runs in groups]
    answers = [[r.answer for r in runs] for runs in groups]
    domain = records[0].domain if records else "math"
    pass_at = {
        str(k): metrics.mean_pass_at_k([c for c in correct if len(c) >= k], k)
        for k in metrics.k_values(spec.k)
        if any(len(c) >= k for c in correct)
    }
    return {
        **asdict(spec),
        "problems": len(groups),
        "runs": len(records),
        "errors": len(records) - len(ok),
        "avg_pass_at_1": metrics.avg_pass_at_1(correct),
        "avg_pass_at_1_ci95": list(metrics.bootstrap_ci([sum(c) / len(c) for c in correct])) if correct else None,
        "pass_at_k": pass_at,
        "maj_at_k": metrics.maj_at_k(answers, correct, partial(same_answer, domain)),
        "oracle_at_n": metrics.mean_or_zero([float(any(c.correct for c in r.candidates)) for r in ok]),
        "mean_response_tokens": metrics.mean_or_zero([r.response_tokens for r in ok]),
        "tokens_per_request": {
            role: {
                kind: metrics.mean_or_zero([getattr(r.usage[role], f"{kind}_tokens") for r in ok if role in r.usage])
                for kind in ("prompt", "completion")
            }
            for role in ROLES
        },
        "judge_calls_per_request": metrics.mean_or_zero([r.usage["judge"].calls for r in ok if "judge" in r.usage]),
        "seconds_per_stage": {
            stage: metrics.mean_or_zero([r.timings_s[stage] for r in ok if stage in r.timings_s]) for stage in STAGES
        },
        "wall_s": wall_s,
    }
