"""`k2think bench`: list the benchmarks of :mod:`bench.registry` and run one or all of them in this process.

    k2think bench --list                    # every bench: what it measures, what it writes, what it needs
    k2think bench                           # every bench in turn, then SUMMARY.md and the README table (make bench)
    k2think bench headtohead --limit 5      # one bench; options after its name are the bench's own
    k2think bench engine -- --help          # the bench's own options
    k2think bench --summary                 # only rewrite SUMMARY.md and the README table from the results there are

``--json`` prints one object: the registry with ``--list``, else the results documents the run wrote.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import asdict
from types import ModuleType
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.table import Table

from services.commands._output import print_json, stderr

if TYPE_CHECKING:
    from bench.registry import Bench


def _bench_package() -> tuple[ModuleType, ModuleType, ModuleType]:
    """``bench.paths``, ``bench.registry`` and ``bench.summary``; a clear error where ``bench`` is not installed."""
    try:
        from bench import paths, registry, summary
    except ImportError as exc:
        stderr.print(
            f"[red]error:[/red] the bench package is not installed ({exc}): `make install` or `pip install -e .`"
        )
        raise typer.Exit(1) from exc
    return paths, registry, summary


def bench_table(benches: Sequence[Bench]) -> Table:
    """The ``--list`` table: one row per bench."""
    table = Table(title="benchmarks (k2think bench NAME [OPTIONS])")
    for column in ("name", "measures", "writes", "needs"):
        table.add_column(column, overflow="fold")
    for bench in benches:
        table.add_row(bench.name, bench.description, ", ".join(bench.writes), ", ".join(bench.needs) or "—")
    return table


def bench_command(
    ctx: typer.Context,
    name: str | None = typer.Argument(None, help="One bench (see --list); every bench when left out."),
    list_only: bool = typer.Option(False, "--list", help="List every bench and run none."),
    summary_only: bool = typer.Option(False, "--summary", help="Only rewrite SUMMARY.md and the README table."),
    json_output: bool = typer.Option(False, "--json", help="Print the registry (--list) or the results as JSON."),
) -> None:
    """Run the benchmarks (all, or NAME with its own options) and write their results; --list shows them."""
    paths, registry, summary = _bench_package()
    if list_only or summary_only:
        if name is not None or ctx.args:
            raise typer.BadParameter("takes no bench name or bench options", param_hint="--list/--summary")
        if list_only and json_output:
            print_json([asdict(bench) for bench in registry.BENCHES])
        elif list_only:
            Console().print(bench_table(registry.BENCHES))
        else:
            summary.refresh(stderr)
        return
    try:
        benches = list(registry.BENCHES) if name is None else [registry.get(name)]
    except registry.UnknownBench as exc:
        raise typer.BadParameter(str(exc), param_hint="NAME") from exc
    started = time.time()
    for bench in benches:
        stderr.rule(f"[bold]{bench.name}")
        code = bench.run(ctx.args)
        if code != 0:
            stderr.print(f"[red]error:[/red] bench {bench.name} exited with status {code}")
            raise typer.Exit(code)
    if name is None:
        summary.refresh(stderr)
    written = sorted(p for p in paths.RESULTS.glob("*.json") if p.stat().st_mtime >= started)
    if json_output:
        print_json({p.stem: json.loads(p.read_text()) for p in written})
    else:
        for path in written:
            stderr.print(f"wrote {path}")


def register(app: typer.Typer) -> None:
    app.command("bench", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})(bench_command)
