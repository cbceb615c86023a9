"""`k2think compare`: the measured gain of a trained model — two evaluations of the same problems, paired."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from services.commands._output import print_json, stderr


def compare(
    before: Path = typer.Option(..., "--before", help="Evaluation folder of the model before training."),
    after: Path = typer.Option(..., "--after", help="Evaluation folder of the trained model, same problems."),
    guard_before: Path | None = typer.Option(None, "--guard-before", help="A benchmark it must not lose: before."),
    guard_after: Path | None = typer.Option(None, "--guard-after", help="The same benchmark after training."),
    min_gain: float = typer.Option(0.10, "--min-gain", min=0.0, max=1.0, help="The target gain (0.10 = 10 points)."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder for gain.json, gain.md and gain.png."),
    json_output: bool = typer.Option(False, "--json", help="Print one JSON object (the report) on stdout."),
) -> None:
    """Compare two `k2think eval --out` folders problem by problem (mean over each problem's runs, paired
    bootstrap interval): the target must gain --min-gain with an interval above 0, the guard must not drop
    beyond noise. Exits 1 when the target is not met or the guard dropped."""
    from k2core.eval.compare import gain_report

    if (guard_before is None) != (guard_after is None):
        missing = "--guard-after" if guard_after is None else "--guard-before"
        raise typer.BadParameter("give both guard folders or neither", param_hint=missing)
    guard = (guard_before, guard_after) if guard_before is not None and guard_after is not None else None
    try:
        report = gain_report((before, after), guard, out, min_gain)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--before/--after") from exc
    if json_output:
        print_json({"out": str(out), **report})
    else:
        table = Table("role", "dataset", "problems", "before", "after", "gain", "95% CI", title="measured gain")
        for role in ("target", "guard"):
            row = report.get(role)
            if row is not None:
                low, high = row["gain_ci95"]
                accuracy = [f"{100 * row[side]['accuracy']:.1f}%" for side in ("before", "after")]
                table.add_row(role, str(row["dataset"]), str(row["problems"]), *accuracy, f"{100 * row['gain']:+.1f}",
                              f"[{100 * low:+.1f}, {100 * high:+.1f}]")  # fmt: skip
        stderr.print(table)
        typer.echo(f"wrote {out / 'gain.md'}; target {'met' if report['target_met'] else 'not met'}")
    if not report["target_met"] or not report.get("guard_held", True):
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("compare")(compare)
