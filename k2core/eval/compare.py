"""Before and after on the same problems: two evaluation folders (``k2think eval --out``) compared problem by
problem, the measured gain of a training run.

Each problem's score is its mean correctness over the folder's runs (``--k``); the gain is the mean per-problem
difference with a paired bootstrap interval, so problems that are easy or hard for both models cancel out.
A *target* comparison must gain at least ``min_gain`` with an interval above 0; a *guard* comparison (a benchmark
the training must not damage) passes when its interval reaches 0 or above, i.e. no drop beyond noise. Where the
dataset's generator records a question type (``gen:tabular``), the report breaks the gain down by type.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from statistics import fmean
from typing import Any

from k2core.data import load_dataset
from k2core.data.datasets import GEN_PREFIX
from k2core.eval.harness import CONFIG_FILE, RESULTS_FILE, RunRecord, latest_records, read_records
from k2core.eval.identity import MODEL_FILE
from k2core.eval.metrics import bootstrap_ci, paired_differences
from k2core.eval.reports import markdown_table, pyplot

GAIN_FILES = ("gain.json", "gain.md", "gain.png")
# What must match for two folders to measure the same thing (the model may differ; where data came from may too).
PROTOCOL_KEYS = ("dataset", "k", "n", "plan", "judge", "max_tokens", "temperature", "top_p", "seed", "limit",
                 "fewshot", "sample")  # fmt: skip


@dataclass(frozen=True)
class Evaluation:
    """One evaluation folder: its protocol, its models and each problem's mean correctness over its runs."""

    folder: Path
    protocol: dict[str, Any]
    models: dict[str, str]
    scores: dict[str, float]
    runs: int


def load_evaluation(folder: Path) -> Evaluation:
    """Read an evaluation folder; a missing or empty one is a ValueError naming it."""
    results = folder / RESULTS_FILE
    if not results.is_file():
        raise ValueError(f"{folder}: no {RESULTS_FILE} (not an evaluation folder of `k2think eval --out`)")
    config_path, model_path = folder / CONFIG_FILE, folder / MODEL_FILE
    config = json.loads(config_path.read_text()) if config_path.is_file() else {}
    models = json.loads(model_path.read_text()) if model_path.is_file() else {}
    outcomes: dict[str, list[float]] = defaultdict(list)
    for record in latest_records(read_records(results, RunRecord)).values():  # a retried pair counts once
        outcomes[record.problem_id].append(1.0 if record.correct else 0.0)
    if not outcomes:
        raise ValueError(f"{folder}: {RESULTS_FILE} holds no results yet")
    protocol = {key: config.get(key) for key in PROTOCOL_KEYS}
    runs = max(len(v) for v in outcomes.values())
    return Evaluation(folder, protocol, models, {p: fmean(v) for p, v in outcomes.items()}, runs)


def compare(before: Evaluation, after: Evaluation, seed: int = 0) -> dict[str, Any]:
    """Accuracy of each side and the paired gain over the problems both finished; protocols must match."""
    differing = [k for k in PROTOCOL_KEYS if before.protocol.get(k) != after.protocol.get(k)]
    if differing:
        detail = ", ".join(f"{k}: {before.protocol.get(k)!r} vs {after.protocol.get(k)!r}" for k in differing)
        raise ValueError(f"{before.folder} and {after.folder} were run differently ({detail})")
    shared = sorted(set(before.scores) & set(after.scores))
    if not shared:
        raise ValueError(f"{before.folder} and {after.folder} share no finished problem")
    old = [before.scores[p] for p in shared]
    new = [after.scores[p] for p in shared]
    diffs = paired_differences(new, old)
    row = {
        "dataset": before.protocol.get("dataset"),
        "problems": len(shared),
        "runs": {"before": before.runs, "after": after.runs},
        "before": _side(before, old, seed),
        "after": _side(after, new, seed),
        "gain": round(fmean(diffs), 4),
        "gain_ci95": [round(x, 4) for x in bootstrap_ci(diffs, seed=seed)],
        "better": sum(d > 0 for d in diffs),
        "worse": sum(d < 0 for d in diffs),
        "same": sum(d == 0 for d in diffs),
    }
    types = question_types(before.protocol)
    by_type = _by_type({p: types[p] for p in shared if p in types}, before, after)
    return {**row, "by_type": by_type} if by_type else row


def question_types(protocol: Mapping[str, Any]) -> dict[str, str]:
    """Each problem's question type where its generator records one (``meta.question.type``); {} otherwise."""
    dataset = protocol.get("dataset")
    if not isinstance(dataset, str) or not dataset.startswith(GEN_PREFIX):
        return {}
    problems = load_dataset(dataset, protocol.get("limit"), protocol.get("seed") or 0)
    questions = {p.id: p.meta.get("question") for p in problems}
    return {pid: str(q["type"]) for pid, q in questions.items() if isinstance(q, dict) and "type" in q}


def _by_type(types: Mapping[str, str], before: Evaluation, after: Evaluation) -> dict[str, dict[str, Any]]:
    """Per question type: problems, each side's accuracy and correct runs, and the mean paired gain."""
    groups: dict[str, list[str]] = defaultdict(list)
    for problem, kind in types.items():
        groups[kind].append(problem)
    out = {}
    for kind, problems in sorted(groups.items()):
        old, new = [before.scores[p] for p in problems], [after.scores[p] for p in problems]
        out[kind] = {
            "problems": len(problems),
            "before": round(fmean(old), 4),
            "after": round(fmean(new), 4),
            "correct_runs": {"before": round(sum(old) * before.runs), "after": round(sum(new) * after.runs)},
            "gain": round(fmean(paired_differences(new, old)), 4),
        }
    return out


def _side(evaluation: Evaluation, scores: Sequence[float], seed: int) -> dict[str, Any]:
    return {
        "folder": str(evaluation.folder),
        "models": evaluation.models,
        "accuracy": round(fmean(scores), 4),
        "ci95": [round(x, 4) for x in bootstrap_ci(scores, seed=seed)],
    }


def verdicts(target: Mapping[str, Any], guard: Mapping[str, Any] | None, min_gain: float) -> dict[str, Any]:
    """Whether the target gained ``min_gain`` with an interval above 0, and the guard did not drop beyond noise."""
    low = target["gain_ci95"][0]
    out: dict[str, Any] = {"min_gain": min_gain, "target_met": target["gain"] >= min_gain and low > 0}
    if guard is not None:
        out["guard_held"] = guard["gain_ci95"][1] >= 0
    return out


def gain_report(
    target: tuple[Path, Path], guard: tuple[Path, Path] | None, out: Path, min_gain: float = 0.10
) -> dict[str, Any]:
    """Compare the target (and guard) folders; write ``gain.json``, ``gain.md`` and ``gain.png`` under ``out``."""
    rows = {"target": compare(load_evaluation(target[0]), load_evaluation(target[1]))}
    if guard is not None:
        rows["guard"] = compare(load_evaluation(guard[0]), load_evaluation(guard[1]))
    report = {**rows, **verdicts(rows["target"], rows.get("guard"), min_gain)}
    out.mkdir(parents=True, exist_ok=True)
    (out / GAIN_FILES[0]).write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    (out / GAIN_FILES[1]).write_text(_markdown(report), encoding="utf-8")
    _plot(rows, out / GAIN_FILES[2])
    return report


def _points(value: float) -> str:
    return f"{100 * value:.1f}%"


def _with_ci(side: Mapping[str, Any]) -> str:
    low, high = side["ci95"]
    return f"{_points(side['accuracy'])} [{_points(low)}, {_points(high)}]"


def _markdown(report: Mapping[str, Any]) -> str:
    headers = ["role", "dataset", "problems × runs", "before", "after", "gain (paired 95% CI)", "better / worse"]
    table_rows = []
    for role in ("target", "guard"):
        row = report.get(role)
        if row is None:
            continue
        low, high = row["gain_ci95"]
        table_rows.append([
            role, str(row["dataset"]), f"{row['problems']} × {row['runs']['after']}",
            _with_ci(row["before"]), _with_ci(row["after"]),
            f"{100 * row['gain']:+.1f} points [{100 * low:+.1f}, {100 * high:+.1f}]",
            f"{row['better']} / {row['worse']}",
        ])  # fmt: skip
    lines = ["# Measured gain of the trained model", "", markdown_table(headers, table_rows), ""]
    target = report["target"]
    lines.append(f"- target: gain ≥ {100 * report['min_gain']:.0f} points with an interval above 0 — "
                 f"{'met' if report['target_met'] else 'not met'}")  # fmt: skip
    if "guard_held" in report:
        held = "held" if report["guard_held"] else "dropped"
        lines.append(f"- guard: no drop beyond noise (its interval reaches 0) — {held}")
    lines.append(f"- before: {target['before']['folder']} ({target['before']['models'].get('solver', '?')})")
    lines.append(f"- after: {target['after']['folder']} ({target['after']['models'].get('solver', '?')})")
    if "by_type" in target:
        lines += ["", "## Target by question type", "", _type_table(target), ""]
    return "\n".join(lines) + "\n"


def _type_table(target: Mapping[str, Any]) -> str:
    runs = target["runs"]["after"]
    headers = ["question type", "problems", "before (correct runs)", "after (correct runs)", "gain"]
    rows = [[kind, str(row["problems"]),
             f"{_points(row['before'])} ({row['correct_runs']['before']} of {row['problems'] * runs})",
             f"{_points(row['after'])} ({row['correct_runs']['after']} of {row['problems'] * runs})",
             f"{100 * row['gain']:+.1f} points"]
            for kind, row in target["by_type"].items()]  # fmt: skip
    return markdown_table(headers, rows)


def _plot(rows: Mapping[str, Mapping[str, Any]], path: Path) -> None:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.6))
    labels = [str(row["dataset"]) for row in rows.values()]
    for offset, side, colour in ((-0.18, "before", "#9aa5b1"), (0.18, "after", "#2f6fde")):
        values = [row[side]["accuracy"] * 100 for row in rows.values()]
        errors = [[v - row[side]["ci95"][0] * 100 for v, row in zip(values, rows.values(), strict=True)],
                  [row[side]["ci95"][1] * 100 - v for v, row in zip(values, rows.values(), strict=True)]]  # fmt: skip
        positions = [i + offset for i in range(len(labels))]
        ax.bar(positions, values, width=0.36, yerr=errors, capsize=4, color=colour, label=side)
    ax.set_xticks(range(len(labels)), labels)
    ax.set_ylabel("accuracy (%)")
    ax.set_title("before / after training (95% bootstrap CI)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
