"""`k2think bench [NAME ...] [-- BENCH OPTIONS]`: run benchmarks of a source checkout; results in bench/results/.

    k2think bench                         # every bench, then bench/results/SUMMARY.md (as `make bench`)
    k2think bench headtohead --limit 5    # one bench; options after the name go to it

Names: ``headtohead``, ``verify``, ``engine`` (modules ``bench/<name>_bench.py``). ``--json`` prints one object
with the results documents the run wrote.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import typer

from services.commands._output import print_json, stderr

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench" / "results"


def bench_module(name: str) -> str:
    """``headtohead`` -> ``bench.headtohead_bench``; an unknown name is a bad parameter naming the choices."""
    known = sorted(p.stem.removesuffix("_bench") for p in (ROOT / "bench").glob("*_bench.py"))
    if name not in known:
        raise typer.BadParameter(
            f"unknown bench {name!r}; expected one of {', '.join(known) or 'none'}", param_hint="NAME"
        )
    return f"bench.{name}_bench"


def bench_command(
    ctx: typer.Context,
    name: str | None = typer.Argument(None, help="One bench (headtohead, verify, engine); all when left out."),
    json_output: bool = typer.Option(False, "--json", help="Print the results documents as one JSON object."),
) -> None:
    """Run the benchmarks (all, or NAME with its own options) and write bench/results/."""
    if not (ROOT / "bench" / "run_all.py").exists():
        stderr.print("[red]error:[/red] bench/ is not here: run `k2think bench` from a source checkout")
        raise typer.Exit(1)
    argv = ["-m", "bench.run_all"] if name is None else ["-m", bench_module(name), *ctx.args]
    started = time.time()
    done = subprocess.run([sys.executable, *argv], cwd=ROOT, check=False)
    if done.returncode != 0:
        raise typer.Exit(done.returncode)
    written = sorted(p for p in RESULTS.glob("*.json") if p.stat().st_mtime >= started)
    if json_output:
        print_json({p.stem: json.loads(p.read_text()) for p in written})
    else:
        for path in written:
            stderr.print(f"wrote {path}")


def register(app: typer.Typer) -> None:
    app.command("bench", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})(bench_command)
