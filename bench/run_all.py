"""Run every benchmark (`make bench`): each script writes bench/results/<name>.json; this writes a summary."""

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


def main(argv: list[str]) -> int:
    """Run the named benchmarks (all by default), then write bench/results/SUMMARY.md."""
    names = argv or list(BENCHES)
    for name in names:
        console.rule(f"[bold]{name}")
        subprocess.run([sys.executable, "-m", f"bench.{name}"], check=True)
    lines = ["# Benchmark results", ""]
    for path in sorted(RESULTS.glob("*.json")):
        lines += _summary_rows(path)
    (RESULTS / "SUMMARY.md").write_text("\n".join(lines))
    console.print(f"summary: {RESULTS / 'SUMMARY.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
