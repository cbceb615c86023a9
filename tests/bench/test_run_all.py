"""`make bench`'s summary: one section per results file, flat figures as rows, the verdict when there is one."""

from __future__ import annotations

import json
from pathlib import Path

from bench.run_all import _summary_rows, write_summary


def test_summary_rows_list_flat_figures_and_the_verdict(tmp_path: Path) -> None:
    path = tmp_path / "headtohead.json"
    document = {
        "workload": "30 problems",
        "date": "2026-11-26",
        "verdict": "speed: k2think 1.92× faster",
        "figures": {"k2think accuracy": 0.2, "nested": {"skipped": 1}},
    }
    path.write_text(json.dumps(document))
    rows = _summary_rows(path)
    assert rows[:5] == ["## headtohead", "", "- workload: 30 problems", "- date: 2026-11-26",
                        "- verdict: speed: k2think 1.92× faster"]  # fmt: skip
    assert "| k2think accuracy | 0.2 |" in rows and not any("nested" in row for row in rows)
    path.write_text(json.dumps({"figures": {}}))
    assert not any(row.startswith("- verdict") for row in _summary_rows(path))


def test_write_summary_collects_every_results_file(tmp_path: Path) -> None:
    for name in ("b_bench", "a_bench"):
        (tmp_path / f"{name}.json").write_text(json.dumps({"workload": name, "figures": {"x": 1}}))
    text = write_summary(tmp_path).read_text()
    assert text.startswith("# Benchmark results") and text.index("## a_bench") < text.index("## b_bench")
