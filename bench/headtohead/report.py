"""The results document (JSON) and its markdown summary."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from bench.engine_bench import machine
from bench.headtohead.outcome import Outcome
from k2core.eval.reports import markdown_table, pyplot


def points(share: float) -> float:
    """A share as percentage points to one decimal, without a float-noise "-0.0"."""
    return round(100 * share, 1) + 0.0


def verdict_text(v: dict[str, Any] | None) -> str | None:
    """The targets as one line of text."""
    if v is None:
        return None
    low, high = (points(x) for x in v["accuracy_ci95"])
    if v["accuracy_resolved"]:
        resolved = "k2think better" if low > 0 else "k2think worse"
    else:
        resolved = "the interval holds 0: no difference the runs can resolve"
    met = {True: "met", False: "NOT met"}
    return "; ".join(
        [
            f"latency: k2think {v['speedup']:.2f}× lower than the reference flow ({met[v['speedup_met']]}, target "
            f"≥ {v['targets']['speedup']}×)",
            f"compute: {points(v['token_saving']):.1f}% fewer completion tokens ({met[v['token_saving_met']]}, target "
            f"≥ {points(v['targets']['token_saving']):.0f}%)",
            f"accuracy: k2think − reference {points(v['accuracy_difference']):+.1f} points over {v['problems']} problems, "
            f"paired 95% CI [{low:+.1f}, {high:+.1f}] ({met[v['accuracy_met']]} by the point estimate; {resolved})",
        ]
    )


def document(
    settings: dict[str, Any],
    workload: str,
    rows: dict[str, dict[str, Any]],
    targets: dict[str, Any] | None,
    outcomes: dict[str, list[Outcome]],
    notes: dict[str, str],
    targets_failures_counted: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The results JSON: workload, settings, flat figures, per-system table, targets (also with failed runs counted
    as wrong answers at their cost, when any failed) and per-problem outcomes."""
    figures: dict[str, Any] = {}
    for name, row in rows.items():
        figures |= {f"{name} accuracy": round(row["accuracy"], 3),
                    f"{name} wall s/problem": round(row["wall_s_per_problem"], 1),
                    f"{name} completion tokens/problem": round(row["completion_tokens_per_problem"]),
                    f"{name} judge calls/problem": round(row["judge_calls_per_problem"], 2)}  # fmt: skip
    if targets is not None:
        figures |= {"k2think latency speed-up over reference": round(targets["speedup"], 2),
                    "k2think completion-token saving vs reference": round(targets["token_saving"], 3)}  # fmt: skip
    return {
        "name": settings["name"],
        "workload": workload,
        "settings": settings,
        "figures": figures,
        "verdict": verdict_text(targets),
        "targets": targets,
        "targets_failures_counted": targets_failures_counted,
        "systems": rows,
        "notes": notes,
        "outcomes": {name: [asdict(o) for o in runs] for name, runs in outcomes.items()},
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        # the run spans hours or days: the load average of the moment the file is written says nothing of it
        "machine": {k: v for k, v in machine().items() if k != "load_avg_1m"},
    }


def _accuracy_cell(row: dict[str, Any]) -> str:
    ci = row.get("accuracy_ci95")
    text = f"{100 * row['accuracy']:.1f}%"
    return text if ci is None else f"{text} [{100 * ci[0]:.0f}, {100 * ci[1]:.0f}]"


def _paired_cell(paired: dict[str, Any] | None) -> str:
    if paired is None:
        return "—"
    low, high = paired["ci95"]
    return f"{points(paired['difference']):+.1f} [{points(low):+.1f}, {points(high):+.1f}]"


def _ratio(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}×"


def plot(doc: dict[str, Any], path: Path) -> Path:
    """A PNG of the three figures people compare, one bar per system: accuracy (with its 95% interval), wall
    seconds per problem (latency) and completion tokens per problem (compute)."""
    plt = pyplot()
    names = list(doc["systems"])
    rows = [doc["systems"][name] for name in names]
    fig, axes = plt.subplots(1, 3, figsize=(10.5, 3.4))
    accuracy = [100 * r["accuracy"] for r in rows]
    errors = [
        [a - 100 * r["accuracy_ci95"][0] if r.get("accuracy_ci95") else 0.0 for a, r in zip(accuracy, rows)],
        [100 * r["accuracy_ci95"][1] - a if r.get("accuracy_ci95") else 0.0 for a, r in zip(accuracy, rows)],
    ]
    panels = [
        (accuracy, "accuracy (%), 95% CI", errors),
        ([r["wall_s_per_problem"] for r in rows], "wall s / problem (latency)", None),
        ([r["completion_tokens_per_problem"] for r in rows], "completion tokens / problem (compute)", None),
    ]
    colours = ["tab:gray", "tab:orange", "tab:blue", "tab:green"]
    for ax, (values, title, yerr) in zip(axes, panels):
        ax.bar(names, values, color=[colours[i % len(colours)] for i in range(len(names))], yerr=yerr, capsize=4)
        ax.set_title(title, fontsize=10)
        ax.tick_params(axis="x", labelsize=9)
    fig.suptitle(f"Head-to-head: {doc['workload'].split(' (')[0]}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def markdown(doc: dict[str, Any], plot_file: str | None = None) -> str:
    """The results as a markdown table (latency and compute side by side, ratios against k2think) and notes, with
    ``plot_file`` (a PNG beside it) shown under the table when given."""
    headers = [
        "system", "problems × rounds", "errors", "accuracy (95% CI)", "oracle", "vs k2think, points (paired 95% CI)",
        "wall s / problem", "latency vs k2think", "completion tokens / problem", "tokens vs k2think",
        "calls / problem", "judge calls / problem", "candidates / problem",
    ]  # fmt: skip
    rows = [
        [
            name, f"{r['problems']} × {len(r['accuracy_per_round']) or 1}", r["errors"], _accuracy_cell(r),
            "—" if r.get("oracle") is None else f"{100 * r['oracle']:.1f}%", _paired_cell(r.get("paired_vs_k2think")),
            f"{r['wall_s_per_problem']:.1f}", _ratio(r.get("latency_vs_k2think")),
            f"{r['completion_tokens_per_problem']:.0f}", _ratio(r.get("completion_tokens_vs_k2think")),
            f"{r['calls_per_problem']:.1f}", f"{r['judge_calls_per_problem']:.1f}", f"{r['candidates_per_problem']:.1f}",
        ]
        for name, r in doc["systems"].items()
    ]  # fmt: skip
    parts = [
        "# Head-to-head",
        f"Workload: {doc['workload']}. Settings: `{json.dumps(doc['settings'])}`. Date: {doc['date']}.",
        markdown_table(headers, rows),
        *([f"![head-to-head]({plot_file})"] if plot_file else []),
        "Latency is wall time per request; compute is the completion tokens the backend generated for it (every "
        "call: planner, solvers, judge or ratings; a stream cut off early counts what it sent). Judge calls: the "
        "reference's linear chain, optillm's per-candidate ratings, k2think's both-order knockout (none when a "
        "strict majority agrees). A failed run (errors) is left out of every other figure of its row.",
    ]
    if doc.get("verdict"):
        parts.append(f"**Targets** (k2think vs the reference flow): {doc['verdict']}.")
    if doc["notes"]:
        parts.append("\n".join(f"- {name}: {text}" for name, text in doc["notes"].items()))
    return "\n\n".join(parts)
