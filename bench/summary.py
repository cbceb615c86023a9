"""The summaries of the results: ``SUMMARY.md`` (every figure of every results file), the README's generated table
(between its ``bench-table`` markers; each bench's headline figures from :mod:`bench.registry`) and the one-screen
table ``k2think bench`` prints after running every bench (or with ``--summary``)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bench import paths, registry

MARKERS = ("<!-- bench-table:start -->", "<!-- bench-table:end -->")


def _load(results: Path) -> dict[str, dict[str, Any]]:
    return {path.stem: json.loads(path.read_text()) for path in sorted(results.glob("*.json"))}


def _headline(name: str, data: dict[str, Any]) -> list[tuple[str, Any]]:
    figures = {k: v for k, v in data.get("figures", {}).items() if not isinstance(v, (dict, list))}
    keys = registry.headlines().get(name)
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
    rows = [
        f"## {path.stem}",
        "",
        f"- workload: {data.get('workload', '')}",
        f"- date: {data.get('date', '')}",
        f"- machine: {_when(data)}",
    ]
    rows += [f"- verdict: {data['verdict']}"] if data.get("verdict") else []
    rows += ["", "| figure | value |", "|---|---|"]
    rows += [
        f"| {key} | {value} |" for key, value in data.get("figures", {}).items() if not isinstance(value, (dict, list))
    ]
    return rows + [""]


def write_summary(results: Path) -> Path:
    """``SUMMARY.md`` from every results file under ``results``."""
    lines = ["# Benchmark results", ""]
    for path in sorted(results.glob("*.json")):
        lines += _summary_rows(path)
    results.mkdir(parents=True, exist_ok=True)
    summary = results / "SUMMARY.md"
    summary.write_text("\n".join(lines))
    return summary


def readme_table(results: Path) -> str:
    """The README's generated table: each headlined bench's figures, with date and machine."""
    rows = ["| bench | measured | headline figures |", "|---|---|---|"]
    headlines = registry.headlines()
    for name, data in _load(results).items():
        if name in headlines:
            figures = "; ".join(f"{key} {value}" for key, value in _headline(name, data))
            rows.append(f"| `{name}` | {_when(data)} | {figures} |")
    return "\n".join(rows)


def rewrite_readme(readme: Path, results: Path) -> bool:
    """Replace the text between the README's markers with ``readme_table``; False when the markers are missing."""
    text = readme.read_text()
    pattern = re.compile(re.escape(MARKERS[0]) + ".*?" + re.escape(MARKERS[1]), re.DOTALL)
    if not pattern.search(text):
        return False
    block = f"{MARKERS[0]}\n{readme_table(results)}\n{MARKERS[1]}"
    readme.write_text(pattern.sub(lambda _: block, text))
    return True


def table(results: Path) -> Table:
    """The one-screen summary: a headline row per results file."""
    summary = Table(title=f"benchmark results ({results})", show_lines=False)
    for column in ("bench", "measured", "headline figures"):
        summary.add_column(column, overflow="fold")
    for name, data in _load(results).items():
        figures = ", ".join(f"{key}={value}" for key, value in _headline(name, data))
        summary.add_row(name, _when(data), figures[:400])
    return summary


def refresh(console: Console, results: Path | None = None, readme: Path | None = None) -> Path:
    """Write SUMMARY.md, regenerate the README's table (a source checkout's README by default) and print the
    one-screen table on ``console``; the path of SUMMARY.md."""
    results = paths.RESULTS if results is None else results
    readme = paths.README if readme is None else readme
    summary = write_summary(results)
    console.print(f"summary: {summary}")
    if readme is not None and readme.is_file() and rewrite_readme(readme, results):
        console.print(f"README table: {readme}")
    console.print(table(results))
    return summary
