"""`k2think bench`: names map to bench modules, options after the name reach the bench, --json shows results."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from services.commands import bench as bench_cmd

runner = CliRunner()


def make_app() -> typer.Typer:
    app = typer.Typer()
    app.callback()(lambda: None)
    bench_cmd.register(app)
    return app


@pytest.fixture
def ran(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[list[str]]:
    """Record the bench command lines instead of running them; each 'run' writes one results file."""
    calls: list[list[str]] = []

    def fake_run(argv: list[str], cwd: Path, check: bool) -> subprocess.CompletedProcess:
        calls.append(argv[1:])
        (tmp_path / "headtohead.json").write_text(json.dumps({"figures": {"k2think accuracy": 0.5}}))
        return subprocess.CompletedProcess(argv, 0)

    monkeypatch.setattr(bench_cmd.subprocess, "run", fake_run)
    monkeypatch.setattr(bench_cmd, "RESULTS", tmp_path)
    return calls


def test_one_bench_gets_its_options_and_json_shows_results(ran: list[list[str]]) -> None:
    result = runner.invoke(make_app(), ["bench", "headtohead", "--limit", "5", "--json"])
    assert result.exit_code == 0, result.output
    assert ran == [["-m", "bench.headtohead_bench", "--limit", "5"]]
    assert json.loads(result.stdout) == {"headtohead": {"figures": {"k2think accuracy": 0.5}}}


def test_no_name_runs_everything(ran: list[list[str]]) -> None:
    assert runner.invoke(make_app(), ["bench"]).exit_code == 0
    assert ran == [["-m", "bench.run_all"]]


def test_unknown_bench_names_the_choices(ran: list[list[str]]) -> None:
    result = runner.invoke(make_app(), ["bench", "nope"])
    assert result.exit_code == 2 and "headtohead" in result.output and ran == []
