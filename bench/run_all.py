"""Run every benchmark (`make bench`): each script writes bench/results/<name>.json; this writes SUMMARY.md, rewrites
the README's generated benchmark table (between its ``bench-table`` markers) and prints a one-screen summary.

    python -m bench.run_all [NAME ...]     # the named benches (all by default), then the summaries
    python -m bench.run_all --summary      # only rewrite SUMMARY.md and the README table from the results there are
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
README = ROOT / "README.md"
BENCHES = ("verify_bench", "engine_bench", "quant_bench", "peer_bench", "service_bench", "headtohead_bench",
           "gpu_specdec_bench")
# The figures each result shows in the one-screen table and the README (all of them go to SUMMARY.md).
HEADLINES = {
    "engine": ("n1_overhead", "n3_overhead", "n3_over_floor_wall", "n3_over_3_sequential_wall",
               "n3_over_n1_wall", "n1_tok_per_s", "n3_tok_per_s", "lookup_reasoning_speedup", "lookup_copy_speedup",
               "prefix_judge_4_calls_prefill_saved", "prefix_3_streamed_candidates_speedup"),
    "quant": ("q4_k_m n1_tok_per_s", "q4_0 n1_tok_per_s", "q8_0 n1_tok_per_s", "q4_k_m n3_tok_per_s",
              "q4_0 n3_tok_per_s", "q8_0 n3_tok_per_s", "q4_k_m gsm8k accuracy", "q4_0 gsm8k accuracy",
              "q8_0 gsm8k accuracy"),
    "peer": ("server_n1_tok_per_s", "engine_n1_tok_per_s", "server_n3_tok_per_s", "engine_n3_tok_per_s",
             "engine_over_server_n1", "engine_over_server_n3"),
    "services": ("grpc added p50 ms", "grpc added p99 ms", "200 SolveStream errors", "200 SolveStream p99 ms",
                 "services peak RSS MiB", "embedded stack PSS MiB", "lean stack PSS MiB"),
}
MARKERS = ("<!-- bench-table:start -->", "<!-- bench-table:end -->")
console = Console(stderr=True)


def _load(results: Path) -> dict[str, dict[str, Any]]:
    return {path.stem: json.loads(path.read_text()) for path in sorted(results.glob("*.json"))}


def _headline(name: str, data: dict[str, Any]) -> list[tuple[str, Any]]:
    figures = {k: v for k, v in data.get("figures", {}).items() if not isinstance(v, (dict, list))}
    keys = HEADLINES.get(name)
    if keys is None:
        return [("verdict", data["verdict"])] if data.get("verdict") else list(figures.items())[:4]
    return [(key, figures[key]) for key in keys if key in figures]


def _when(data: dict[str, Any]) -> str:
    machine = data.get("machine", {})
    load = machine.get("load_avg_1m")
    where = f"{machine['cpu']}, " if machine.get("cpu") else ""
    where += f"{machine.get('cores', '?')} cores" + (f", load {load}" if load is not None else "")
    return f"{data.get('date', '?')[:10]}, {where}"


def _summary_rows(path: Path) -> list[str]:
    """One results file's section of SUMMARY.md: workload, date, machine, verdict, then every flat figure."""
    data = json.loads(path.read_text())
    rows = [f"## {path.stem}", "", f"- workload: {data.get('workload', '')}", f"- date: {data.get('date', '')}",
            f"- machine: {_when(data)}"]
    rows += [f"- verdict: {data['verdict']}"] if data.get("verdict") else []
    rows += ["", "| figure | value |", "|---|---|"]
    rows += [f"| {key} | {value} |" for key, value in data.get("figures", {}).items()
             if not isinstance(value, (dict, list))]
    return rows + [""]


def write_summary(results: Path = RESULTS) -> Path:
    """``SUMMARY.md`` from every results file under ``results``."""
    lines = ["# Benchmark results", ""]
    for path in sorted(results.glob("*.json")):
        lines += _summary_rows(path)
    summary = results / "SUMMARY.md"
    summary.write_text("\n".join(lines))
    return summary


def readme_table(results: Path = RESULTS) -> str:
    """The README's generated table: each headlined bench's figures, with date and machine."""
    rows = ["| bench | measured | headline figures |", "|---|---|---|"]
    for name, data in _load(results).items():
        if name in HEADLINES:
            figures = "; ".join(f"{key} {value}" for key, value in _headline(name, data))
            rows.append(f"| `{name}` | {_when(data)} | {figures} |")
    return "\n".join(rows)


def rewrite_readme(readme: Path = README, results: Path = RESULTS) -> bool:
    """Replace the text between the README's markers with ``readme_table``; False when the markers are missing."""
    text = readme.read_text()
    pattern = re.compile(re.escape(MARKERS[0]) + ".*?" + re.escape(MARKERS[1]), re.DOTALL)
    if not pattern.search(text):
        return False
    block = f"{MARKERS[0]}\n{readme_table(results)}\n{MARKERS[1]}"
    readme.write_text(pattern.sub(lambda _: block, text))
    return True


def print_table(results: Path = RESULTS) -> None:
    """The one-screen summary: a headline row per result file."""
    table = Table(title="benchmarks (bench/results/)", show_lines=False)
    for column in ("bench", "measured", "headline figures"):
        table.add_column(column, overflow="fold")
    for name, data in _load(results).items():
        figures = ", ".join(f"{key}={value}" for key, value in _headline(name, data))
        table.add_row(name, _when(data), figures[:400])
    Console(width=160).print(table)


def main(argv: list[str]) -> int:
    """Run the named benchmarks (all by default; none with ``--summary``), then write the summaries and print one."""
    names = [] if argv == ["--summary"] else argv or list(BENCHES)
    for name in names:
        console.rule(f"[bold]{name}")
        subprocess.run([sys.executable, "-m", f"bench.{name}"], check=True)
    console.print(f"summary: {write_summary()}")
    if rewrite_readme():
        console.print(f"README table: {README}")
    print_table()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
