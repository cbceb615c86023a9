"""Run every benchmark (`make bench`): each script writes bench/results/<name>.json; this writes a summary.

    python -m bench.run_all [NAME ...]     # the named benches (all by default), then SUMMARY.md
    python -m bench.run_all --summary      # only rewrite SUMMARY.md from the results there are
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from rich.console import Console

RESULTS = Path(__file__).resolve().parent / "results"
BENCHES = ("verify_bench", "engine_bench", "headtohead_bench", "gpu_specdec_bench")
console = Console(stderr=True)


def _summary_rows(path: Path) -> list[str]:
    data = json.loads(path.read_text())
    figures = data.get("figures", {})
    rows = [f"## {path.stem}", "", f"- workload: {data.get('workload', '')}", f"- date: {data.get('date', '')}"]
    rows += [f"- verdict: {data['verdict']}"] if data.get("verdict") else []
    rows += [""]
    rows += [f"| {key} | {value} |" for key, value in figures.items() if not isinstance(value, (dict, list))]
    return rows + [""]


def write_summary(results: Path = RESULTS) -> Path:
    """``SUMMARY.md`` from every results file under ``results``."""
    lines = ["# Benchmark results", ""]
    for path in sorted(results.glob("*.json")):
        lines += _summary_rows(path)
    summary = results / "SUMMARY.md"
    summary.write_text("\n".join(lines))
    return summary


def main(argv: list[str]) -> int:
    """Run the named benchmarks (all by default; none with ``--summary``), then write bench/results/SUMMARY.md."""
    names = [] if argv == ["--summary"] else argv or list(BENCHES)
    for name in names:
        console.rule(f"[bold]{name}")
        subprocess.run([sys.executable, "-m", f"bench.{name}"], check=True)
    console.print(f"summary: {write_summary()}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
