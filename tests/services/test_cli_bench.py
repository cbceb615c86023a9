"""`k2think bench`: --list shows every registered bench, a name runs that bench in this process with its own options,
no name runs them all and then the summaries, and an unknown name is a usage error naming the choices.

The benches themselves are heavy (models, peers, minutes): the runs here go through ``k2think bench`` into a small
bench registered for the test (a real argparse ``main`` writing a results file) or into a real bench's argparse
only (``--help``, a bad option), never into a real workload."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from bench import paths, registry
from services.commands import bench as bench_cmd

runner = CliRunner()
WIDE = {"COLUMNS": "200"}  # rich folds table cells to the terminal width


def make_app() -> typer.Typer:
    app = typer.Typer()
    app.callback()(lambda: None)
    bench_cmd.register(app)
    return app


def small_bench(argv: list[str]) -> int:
    """A bench small enough to run here: writes ``<its name>.json`` (its name from its program name) with its option."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--value", type=int, default=0)
    parser.add_argument("--fail", action="store_true")
    args = parser.parse_args(argv)
    if args.fail:
        return 3
    name = parser.prog.removeprefix("k2think bench ")
    (paths.RESULTS / f"{name}.json").write_text(json.dumps({"figures": {"value": args.value}, "prog": parser.prog}))
    return 0


def small(name: str) -> registry.Bench:
    return registry.Bench(
        name=name, entry=f"{__name__}:small_bench", description=f"{name} bench", writes=(f"{name}.json",)
    )


@pytest.fixture
def results(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Results (and the README the summaries rewrite) under tmp_path, never the checkout's."""
    monkeypatch.setattr(paths, "RESULTS", tmp_path / "results")
    monkeypatch.setattr(paths, "README", tmp_path / "README.md")
    (tmp_path / "results").mkdir()
    return tmp_path / "results"


def test_list_shows_every_registered_bench() -> None:
    result = runner.invoke(make_app(), ["bench", "--list"], env=WIDE)
    assert result.exit_code == 0, result.output
    for bench in registry.BENCHES:
        assert bench.name in result.stdout and bench.writes[0] in result.stdout, bench.name
    assert "gpu" in result.stdout and "peer" in result.stdout
    listed = json.loads(runner.invoke(make_app(), ["bench", "--list", "--json"]).stdout)
    assert [row["name"] for row in listed] == registry.names() and listed[0]["writes"] == ["verify.json"]


def test_unknown_bench_is_a_usage_error_naming_the_choices(results: Path) -> None:
    result = runner.invoke(make_app(), ["bench", "nope"], env=WIDE)
    assert result.exit_code == 2 and "unknown bench 'nope'" in result.output
    assert all(name in result.output for name in registry.names())
    assert list(results.iterdir()) == []


def test_list_takes_no_bench_name() -> None:
    result = runner.invoke(make_app(), ["bench", "--list", "engine"])
    assert result.exit_code == 2 and "--list" in result.output


def test_a_real_bench_gets_its_own_options_in_process() -> None:
    helped = runner.invoke(make_app(), ["bench", "gpu_specdec", "--", "--help"])
    assert (
        helped.exit_code == 0
        and "usage: k2think bench gpu_specdec" in helped.stdout
        and "--eagle-model" in helped.stdout
    )
    bad = runner.invoke(make_app(), ["bench", "gpu_specdec", "--max-tokens", "many"])
    assert bad.exit_code == 2 and "argument --max-tokens: invalid int value: 'many'" in bad.stderr


def test_one_bench_runs_with_its_options_and_json_shows_its_results(
    monkeypatch: pytest.MonkeyPatch, results: Path
) -> None:
    monkeypatch.setattr(registry, "BENCHES", (small("first"), small("second")))
    result = runner.invoke(make_app(), ["bench", "second", "--value", "5", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"second": {"figures": {"value": 5}, "prog": "k2think bench second"}}
    assert sorted(p.name for p in results.iterdir()) == ["second.json"]  # one bench: no summaries


def test_no_name_runs_every_bench_then_the_summaries(monkeypatch: pytest.MonkeyPatch, results: Path) -> None:
    monkeypatch.setattr(registry, "BENCHES", (small("first"), small("second")))
    result = runner.invoke(make_app(), ["bench"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in results.iterdir()) == ["SUMMARY.md", "first.json", "second.json"]
    summary = (results / "SUMMARY.md").read_text()
    assert summary.index("## first") < summary.index("## second")
    assert "wrote" in result.output and "first" in result.output  # the one-screen table and the files written
    stray = runner.invoke(make_app(), ["bench", "--value", "1"])  # an option with no bench: no bench of that name
    assert stray.exit_code == 2 and "unknown bench '--value'" in stray.output


def test_a_failing_bench_stops_the_run_with_its_status(monkeypatch: pytest.MonkeyPatch, results: Path) -> None:
    monkeypatch.setattr(registry, "BENCHES", (small("broken"),))
    result = runner.invoke(make_app(), ["bench", "broken", "--fail"])
    assert result.exit_code == 3 and "bench broken exited with status 3" in result.output
    assert list(results.iterdir()) == []
