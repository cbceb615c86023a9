"""`k2think traces`: bad adaptive-sampling settings and bad knobs are refused before anything is sampled."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from click.testing import Result
from typer.testing import CliRunner

from services.commands import traces as traces_cmd


def invoke(*args: str) -> Result:
    app = typer.Typer()
    app.callback()(lambda: None)
    traces_cmd.register(app)
    return CliRunner().invoke(app, ["traces", *args])


def test_the_cli_refuses_a_budget_below_one_round_naming_the_option(tmp_path: Path) -> None:
    result = invoke("--dataset", "gen:arith", "--samples", "4", "--max-samples", "2", "--out", str(tmp_path))
    assert result.exit_code == 2 and "max-samples" in result.output and "at least samples" in result.output
    assert not (tmp_path / "traces.jsonl").exists(), "nothing was sampled"


@pytest.mark.parametrize(
    ("dataset", "knob", "says"),
    [
        ("gen:tabular", "questions=max,median", "median"),
        ("gen:tabular", "colour=red", "unknown knob 'colour'"),
        ("gen:tabular", "questions", "expected KEY=VALUE"),
        ("gsm8k_train", "questions=max", "apply to generated datasets"),
    ],
)
def test_the_cli_refuses_a_bad_knob_naming_the_option(tmp_path: Path, dataset: str, knob: str, says: str) -> None:
    result = invoke("--dataset", dataset, "--knob", knob, "--out", str(tmp_path))
    assert result.exit_code == 2 and "--knob" in result.output and says in result.output
    assert not (tmp_path / "metrics.jsonl").exists(), "nothing was sampled"
