"""Markdown and PNG (matplotlib, Agg) renderings of the component, selection and scaling studies."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from types import ModuleType

Row = Sequence[Any]


def pyplot() -> ModuleType:
    """matplotlib's pyplot on the Agg backend, imported on first use (commands that draw nothing skip it)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def markdown_table(headers: Sequence[str], rows: Sequence[Row]) -> str:
    """A GitHub markdown table; floats get at most two decimals."""
    cell = lambda v: f"{v:.2f}".rstrip("0").rstrip(".") if isinstance(v, float) else ("—" if v is None else str(v))  # noqa: E731
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def percent(value: float | None) -> str:
    """``0.4567`` -> ``45.7%``; None -> an em dash."""
    return "—" if value is None else f"{100 * value + 0.0:.1f}%".replace("-0.0%", "0.0%")


def _bar_chart(
    path: Path, groups: Sequence[str], series: Mapping[str, Sequence[float]], title: str, ylabel: str
) -> None:
    """A grouped bar chart of percentages: one group per x label, one bar per series."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(max(5.0, 1.6 * len(groups) * max(1, len(series)) / 2), 3.6))
    width = 0.8 / max(1, len(series))
    for i, (name, values) in enumerate(series.items()):
        xs = [g + (i - (len(series) - 1) / 2) * width for g in range(len(groups))]
        ax.bar(xs, values, width, label=name)
    ax.set_xticks(range(len(groups)), groups)
    ax.set_ylabel(ylabel)
    ax.set_ylim(0, 105)
    ax.set_title(title)
    if len(series) > 1:
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_components(out: Path, summaries: Mapping[str, Mapping[str, Any]]) -> Path:
    """``components.md`` and ``components.png`` from ``summaries[dataset]`` component summaries."""
    out.mkdir(parents=True, exist_ok=True)
    datasets = list(summaries)
    arms = list(next(iter(summaries.values()))["arms"]) if summaries else []
    accuracy = [
        [f"{d} ({summaries[d]['problems']})",
         *(f"{percent(a['accuracy'])} {_interval(a['ci95'])}" for a in summaries[d]["arms"].values())]
        for d in datasets
    ]  # fmt: skip
    gain = [
        [d, *(_signed_points(a["vs_base"], a["vs_base_ci95"]) for a in summaries[d]["arms"].values())] for d in datasets
    ]
    length = [
        [d, *(round(a["response_tokens"], 1) for a in summaries[d]["arms"].values()),
         _signed_percent(summaries[d]["candidate_tokens"]["plan_change"])]
        for d in datasets
    ]  # fmt: skip
    calls = [[d, *(round(a["judge_calls_per_problem"], 2) for a in summaries[d]["arms"].values())] for d in datasets]
    first = next(iter(summaries.values()), {})
    text = "\n\n".join(
        [
            "# Component analysis",
            f"Two selection studies on the same problems, one with the plan and one without, N={first.get('n')} "
            f"candidates per problem each (temperature {first.get('temperature')}, top-p {first.get('top_p')}, max "
            f"tokens {first.get('max_tokens')}, every candidate sampled to its end). base and +plan are pass@1 (the "
            "mean correctness of the N candidates: k = N single-sample runs); +best-of-N and both are k2think's "
            "selection (verifier → strict majority → both-order judge) among those same candidates. Intervals: "
            "percentile bootstrap over problems (paired for the gains).",
            "## Accuracy (problems in brackets; 95% CI)",
            markdown_table(["dataset", *arms], accuracy),
            "## Gain over base (points, paired 95% CI)",
            markdown_table(["dataset", *arms], gain),
            "## Response length (mean completion tokens of the answer: every candidate, or the selected one)",
            markdown_table(["dataset", *arms, "length change with the plan"], length),
            "## Judge calls per problem",
            markdown_table(["dataset", *arms], calls),
        ]
    )
    series = {a: [100 * summaries[d]["arms"][a]["accuracy"] for d in datasets] for a in arms}
    _bar_chart(out / "components.png", datasets, series, "Component analysis", "accuracy (%)")
    return _write(out / "components.md", text + "\n\n![components](components.png)\n")


def _signed_points(value: float, ci: Sequence[float] | None) -> str:
    """A difference in percentage points with its interval (``—`` for the reference arm)."""
    if ci is None:
        return "—"
    return f"{100 * value:+.1f} [{100 * ci[0]:+.1f}, {100 * ci[1]:+.1f}]"


def _signed_percent(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:+.1f}%"


SELECTION_COLUMNS = ["selector", "accuracy", "95% CI", "gap closed", "gap 95% CI", "vs majority@N", "judge calls"]


def _judge_note(study: Mapping[str, Any]) -> str:
    """How the judge decided, and where the candidates came from when they were replayed."""
    how = (
        "Judge: position-calibrated (its log-odds for A over B summed over both orders; in k2think's knockout plus "
        "the log ratio of the two answers' group sizes)."
        if study.get("judge_calibrated")
        else "Judge: verdicts as written, both orders."
    )
    if study.get("replayed_from"):
        how += f" Candidates replayed from `{study['replayed_from']}` (only problems whose texts were stored)."
    before = study.get("before_replay")
    if before and before["problems"]:
        how += (
            f" On the same {before['problems']} problems k2think scored {percent(before['k2think_before'])} with the "
            f"judge they were studied with and {percent(before['k2think_replayed'])} replayed: "
            f"{_versus({'difference': before['difference'], 'ci95': before['ci95']})} points (paired)."
        )
    return how


def write_selection(out: Path, study: Mapping[str, Any]) -> Path:
    """``selection.md`` and ``selection.png`` from a selection-study summary."""
    out.mkdir(parents=True, exist_ok=True)
    selectors = study["selectors"]
    rows = [
        [name, percent(s["accuracy"]), _interval(s.get("ci95")), percent(s["gap_closed"]),
         _interval(s.get("gap_closed_ci95")), _versus(s.get("vs_majority")), round(s["judge_calls_per_problem"], 2)]
        for name, s in selectors.items()
    ]  # fmt: skip
    headline = ", ".join(
        f"{name} {percent(s['gap_closed'])}" for name, s in selectors.items() if name not in ("pass@1", "oracle")
    )
    text = "\n\n".join(
        [
            "# Selection quality",
            f"{study['problems']} problems of {study['dataset']}, the same N={study['n']} candidates per problem for "
            f"every selector (max tokens {study['max_tokens']}, plan {'on' if study['plan'] else 'off'}).",
            _judge_note(study),
            f"**Share of the pass@1 → oracle gap closed:** {headline}.",
            _range_note(selectors["pass@1"]["accuracy"]),
            markdown_table(SELECTION_COLUMNS, rows),
            "pass@1 is the mean correctness of single candidates; majority ties score the share of correct leaders; "
            "k2think = verifier (public tests for code) → strict majority → both-order knockout judge; linear judge = "
            "the reference chain (incumbent vs next, N-1 calls, ties keep the incumbent); oracle = any candidate "
            "correct. Intervals: percentile bootstrap over problems (the gap's resamples the three series together); "
            "vs majority@N: accuracy difference in points with a paired interval; judge calls are per problem.",
            _judge_quality_section(study.get("judge_quality")),
        ]
    )
    names = list(selectors)
    _bar_chart(
        out / "selection.png", names, {"accuracy": [100 * selectors[s]["accuracy"] for s in names]},
        f"Selection quality ({study['dataset']}, N={study['n']})", "accuracy (%)",
    )  # fmt: skip
    return _write(out / "selection.md", text + "\n\n![selection](selection.png)\n")


def write_eval(out: Path, summary: Mapping[str, Any], model: str, published: Any = None) -> Path:
    """``eval.md`` and ``eval.png``: one run's accuracy with its interval, next to the published figure if any."""
    out.mkdir(parents=True, exist_ok=True)
    sampling = (
        "greedy" if summary["temperature"] == 0 else f"temperature {summary['temperature']}, top-p {summary['top_p']}"
    )
    rows = [["k2think harness", percent(summary["avg_pass_at_1"]), _interval(summary.get("avg_pass_at_1_ci95")),
             f"{summary['problems']} problems × k={summary['k']}, N={summary['n']}, {sampling}"]]  # fmt: skip
    if published is not None:
        rows.append([published.source, f"{published.value:.1f}%", "—", published.protocol])
    lines = [
        f"# {summary['dataset']} on {model}",
        f"avg pass@1 over k={summary['k']} runs; plan {'on' if summary['plan'] else 'off'}, judge "
        f"{'on' if summary['judge'] else 'off'}, max tokens {summary['max_tokens']}; {summary['errors']} errors. "
        f"Mean response {summary['mean_response_tokens']:.0f} tokens, {summary['seconds_per_stage']['total']:.1f} s "
        "per request.",
        markdown_table(["source", "pass@1", "95% CI", "protocol"], rows),
    ]
    series = {"pass@1": [100 * summary["avg_pass_at_1"]] + ([published.value] if published else [])}
    labels = ["measured"] + (["published"] if published else [])
    _bar_chart(out / "eval.png", labels, series, f"{summary['dataset']} ({model})", "pass@1 (%)")
    return _write(out / "eval.md", "\n\n".join(lines) + "\n\n![eval](eval.png)\n")


def _versus(versus: Mapping[str, Any] | None) -> str:
    """A paired difference in points with its interval, or an em dash."""
    return "—" if not versus else _signed_points(versus["difference"], versus["ci95"])


def _interval(ci: Sequence[float] | None) -> str:
    """``[low, high]`` in percent, or an em dash."""
    return "—" if not ci else f"[{percent(ci[0])}, {percent(ci[1])}]"


def _judge_quality_section(quality: Mapping[str, Any] | None) -> str:
    """The judge on right/wrong pairs: how often it picks the right one per order and with both orders."""
    if not quality or not quality.get("pairs"):
        return "## Judge quality\n\nNo pair with exactly one right candidate was probed."
    rows = [
        ["right shown as A", percent(quality["right_shown_as_a"])],
        ["right shown as B", percent(quality["right_shown_as_b"])],
        ["both orders (wins one, loses neither)", percent(quality["both_orders"])],
    ]
    return "\n\n".join(
        [
            "## Judge quality",
            f"{quality['pairs']} pairs where exactly one candidate is right; how often the judge picks the right one "
            "(a coin would score 50% per order; both orders count ties as misses).",
            markdown_table(["order", "picks the right one"], rows),
        ]
    )


def _range_note(pass1: float) -> str:
    """A warning when pass@1 lies outside 10–90%, where selectors can hardly differ."""
    if 0.1 <= pass1 <= 0.9:
        return f"pass@1 is {percent(pass1)}, inside the 10–90% range where selectors can differ."
    return f"**Caution:** pass@1 is {percent(pass1)}, outside 10–90%: the gap figures say little about the selectors."


def write_scaling(out: Path, rows: Sequence[Mapping[str, Any]], about: str) -> Path:
    """``scaling.md`` and ``scaling.png``: wall time and tokens per request against N."""
    out.mkdir(parents=True, exist_ok=True)
    headers = [
        "N",
        "wall s / request",
        "tokens / request",
        "completion tokens / request",
        "judge calls / request",
        "accuracy",
    ]
    table = [
        [
            r["n"], round(r["wall_s_per_request"], 2), round(r["tokens_per_request"], 1),
            round(r["completion_tokens_per_request"], 1), round(r["judge_calls_per_request"], 2),
            percent(r["accuracy"]),
        ]
        for r in rows
    ]  # fmt: skip
    text = "\n\n".join(["# Scaling with N", about, markdown_table(headers, table)])
    ns = [r["n"] for r in rows]
    plt = pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(8, 3.4))
    left.plot(ns, [r["wall_s_per_request"] for r in rows], marker="o")
    left.set(xlabel="N (candidates)", ylabel="wall seconds / request", title="Wall time")
    right.plot(ns, [r["tokens_per_request"] for r in rows], marker="o", color="tab:orange")
    right.set(xlabel="N (candidates)", ylabel="tokens / request", title="Tokens (all roles)")
    for ax in (left, right):
        ax.set_xticks(ns)
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out / "scaling.png", dpi=110)
    plt.close(fig)
    return _write(out / "scaling.md", text + "\n\n![scaling](scaling.png)\n")


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path
