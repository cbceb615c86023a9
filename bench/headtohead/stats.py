"""Statistics over outcomes: accuracy with bootstrap intervals over problems, paired differences to k2think, latency
and compute per problem, and the issue's targets read off the table."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from bench.headtohead.outcome import Outcome
from k2core.eval.metrics import bootstrap_ci, oracle, paired_differences

BASELINE = "k2think"


@dataclass(frozen=True)
class Targets:
    """k2think against the reference flow: at least ``speedup``× lower latency and ``token_saving`` fewer
    completion tokens, at equal or better accuracy."""

    speedup: float = 2.0
    token_saving: float = 0.40


def per_problem_accuracy(outcomes: list[Outcome]) -> dict[str, float]:
    """Each problem's share of correct runs over the rounds it ran without error."""
    runs: dict[str, list[bool]] = {}
    for o in outcomes:
        if o.error is None:
            runs.setdefault(o.problem_id, []).append(o.correct)
    return {pid: sum(r) / len(r) for pid, r in runs.items()}


def aggregate(outcomes: list[Outcome]) -> dict[str, Any]:
    """Accuracy (95% bootstrap interval over problems), oracle over each run's candidates, mean wall seconds and
    completion tokens per run, calls and judge calls, over the runs without error."""
    ok = [o for o in outcomes if o.error is None]
    count = max(1, len(ok))
    by_problem = per_problem_accuracy(outcomes)
    known = [o.candidates_correct for o in ok if o.candidates_correct is not None]
    rounds = sorted({o.round for o in ok})
    prompt = None if any(o.prompt_tokens is None for o in ok) else sum(o.prompt_tokens or 0 for o in ok)
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
        "completion_tokens_per_problem": sum(o.completion_tokens for o in ok) / count,
        "completion_tokens": sum(o.completion_tokens for o in ok),
        "prompt_tokens": prompt,
        "calls_per_problem": sum(o.calls for o in ok) / count,
        "judge_calls": sum(o.judge_calls for o in ok),
        "judge_calls_per_problem": sum(o.judge_calls for o in ok) / count,
        "candidates_per_problem": sum(o.candidates or 0 for o in ok) / count,
    }


def paired_vs_baseline(system: list[Outcome], baseline: list[Outcome]) -> dict[str, Any] | None:
    """Mean per-problem accuracy difference (system − baseline) over the problems both ran, with its paired 95%
    bootstrap interval: an interval holding 0 means the runs cannot tell the two apart."""
    mine, theirs = per_problem_accuracy(system), per_problem_accuracy(baseline)
    shared = [pid for pid in mine if pid in theirs]
    if not shared:
        return None
    diffs = paired_differences([mine[p] for p in shared], [theirs[p] for p in shared])
    return {"problems": len(shared), "difference": sum(diffs) / len(diffs), "ci95": list(bootstrap_ci(diffs))}


def failures_as_wrong(outcomes: dict[str, list[Outcome]]) -> dict[str, list[Outcome]]:
    """Every failed run as a wrong answer that keeps the time and tokens it spent: how a caller meets a failure.
    (The table itself leaves failed runs out, which favours a system whose failures are its longest requests.)"""
    return {
        name: [replace(o, error=None, correct=False) if o.error is not None else o for o in runs]
        for name, runs in outcomes.items()
    }


def table(outcomes: dict[str, list[Outcome]]) -> dict[str, dict[str, Any]]:
    """One row per system; with k2think present, each row's latency and completion tokens as multiples of
    k2think's and its accuracy difference to k2think, paired over the same problems."""
    rows = {name: aggregate(runs) for name, runs in outcomes.items()}
    base = rows.get(BASELINE)
    if base is None or not base["runs"]:
        return rows
    for name, row in rows.items():
        row["latency_vs_k2think"] = row["wall_s_per_problem"] / base["wall_s_per_problem"]
        row["completion_tokens_vs_k2think"] = row["completion_tokens_per_problem"] / max(1.0, base["completion_tokens_per_problem"])
        row["paired_vs_k2think"] = paired_vs_baseline(outcomes[name], outcomes[BASELINE])
    return rows


def verdict(rows: dict[str, dict[str, Any]], targets: Targets = Targets()) -> dict[str, Any] | None:
    """The targets against the reference flow: latency speed-up, completion-token saving and the paired accuracy
    difference k2think − reference (met on the point estimate; the interval says whether the runs resolve it)."""
    ref, base = rows.get("reference"), rows.get(BASELINE)
    if ref is None or base is None or not ref["runs"] or not base["runs"] or ref.get("paired_vs_k2think") is None:
        return None
    speedup = ref["wall_s_per_problem"] / base["wall_s_per_problem"]
    saving = 1.0 - base["completion_tokens_per_problem"] / max(1.0, ref["completion_tokens_per_problem"])
    paired = ref["paired_vs_k2think"]
    difference = -paired["difference"]
    low, high = -paired["ci95"][1], -paired["ci95"][0]
    return {
        "speedup": speedup,
        "speedup_met": speedup >= targets.speedup,
        "token_saving": saving,
        "token_saving_met": saving >= targets.token_saving,
        "accuracy_difference": difference,
        "accuracy_ci95": [low, high],
        "accuracy_met": difference >= -1e-12,
        "accuracy_resolved": not low <= 0.0 <= high,
        "problems": paired["problems"],
        "targets": {"speedup": targets.speedup, "token_saving": targets.token_saving},
    }
