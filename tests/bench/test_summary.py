"""The benchmark summaries (`make bench`, `k2think bench --summary`): SUMMARY.md (one section per results file, flat
figures as rows, the verdict when there is one), the README's generated table between its markers (headlines from
the registry) and the one-screen table."""

from __future__ import annotations

import io
import json
from pathlib import Path

from rich.console import Console

from bench.summary import MARKERS, _summary_rows, readme_table, refresh, rewrite_readme, write_summary


def test_summary_rows_list_flat_figures_and_the_verdict(tmp_path: Path) -> None:
    path = tmp_path / "headtohead.json"
    document = {
        "workload": "30 problems",
        "date": "2026-11-26",
        "verdict": "speed: k2think 1.92× faster",
        "figures": {"k2think accuracy": 0.2, "nested": {"skipped": 1}},
        "machine": {"cores": 2, "load_avg_1m": 3.5},
    }
    path.write_text(json.dumps(document))
    rows = _summary_rows(path)
    assert rows[:6] == [
        "## headtohead", "", "- workload: 30 problems", "- date: 2026-11-26",
        "- machine: 2026-11-26, 2 cores, load 3.5", "- verdict: speed: k2think 1.92× faster",
    ]  # fmt: skip
    assert "| k2think accuracy | 0.2 |" in rows and not any("nested" in row for row in rows)
    path.write_text(json.dumps({"figures": {}}))
    assert not any(row.startswith("- verdict") for row in _summary_rows(path))


def test_write_summary_collects_every_results_file(tmp_path: Path) -> None:
    for name in ("b_bench", "a_bench"):
        (tmp_path / f"{name}.json").write_text(json.dumps({"workload": name, "figures": {"x": 1}}))
    text = write_summary(tmp_path).read_text()
    assert text.startswith("# Benchmark results") and text.index("## a_bench") < text.index("## b_bench")


def test_the_readme_table_is_regenerated_between_its_markers(tmp_path: Path) -> None:
    results = tmp_path / "results"
    results.mkdir()
    engine = {
        "date": "2026-12-03T09:00:00+00:00",
        "machine": {"cores": 2, "load_avg_1m": 1.25},
        "figures": {"n3_over_floor_wall": 1.02, "n1_tok_per_s": 30.5, "not_a_headline": 7},
    }
    (results / "engine.json").write_text(json.dumps(engine))
    (results / "verify.json").write_text(json.dumps({"figures": {"x": 1}}))  # no headlines: not in the README
    table = readme_table(results)
    assert "| `engine` | 2026-12-03, 2 cores, load 1.25 | n3_over_floor_wall 1.02; n1_tok_per_s 30.5 |" in table
    assert "verify" not in table and "not_a_headline" not in table
    readme = tmp_path / "README.md"
    readme.write_text(f"# Title\n\n{MARKERS[0]}\nold table\n{MARKERS[1]}\n\nAfter.\n")
    assert rewrite_readme(readme, results)
    text = readme.read_text()
    assert "old table" not in text and table in text and text.endswith("After.\n")
    readme.write_text("no markers\n")
    assert not rewrite_readme(readme, results) and readme.read_text() == "no markers\n"


def test_refresh_writes_the_summary_the_readme_table_and_prints_the_headlines(tmp_path: Path) -> None:
    results = tmp_path / "results"
    results.mkdir()
    peer = {"date": "2026-12-03", "figures": {"engine_over_server_n1": 1.125, "ignored": 3}}
    (results / "peer.json").write_text(json.dumps(peer))
    readme = tmp_path / "README.md"
    readme.write_text(f"{MARKERS[0]}\n{MARKERS[1]}\n")
    console = Console(record=True, width=200, file=io.StringIO())
    summary = refresh(console, results, readme)
    assert summary == results / "SUMMARY.md" and "## peer" in summary.read_text()
    assert "engine_over_server_n1 1.125" in readme.read_text() and "ignored" not in readme.read_text()
    printed = console.export_text()
    assert "engine_over_server_n1=1.125" in printed and f"README table: {readme}" in printed
