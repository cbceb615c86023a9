"""`k2think traces`: bad adaptive-sampling settings are refused before anything is sampled."""

from __future__ import annotations

from pathlib import Path

import typer
from typer.testing import CliRunner

from services.commands import traces as traces_cmd


def test_the_cli_refuses_a_budget_below_one_round_naming_the_option(tmp_path: Path) -> None:
    app = typer.Typer()
    app.callback()(lambda: None)
    traces_cmd.register(app)
    args = ["traces", "--dataset", "gen:arith", "--samples", "4", "--max-samples", "2", "--out", str(tmp_path)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2 and "max-samples" in result.output and "at least samples" in result.output
    assert not (tmp_path / "traces.jsonl").exists(), "nothing was sampled"
