"""`k2think generate` and `k2think data export-verl`: files written, one JSON object on stdout, errors named."""

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import typer
from typer.testing import CliRunner

from k2core.data import Problem, read_jsonl
from services.commands import data, generate

runner = CliRunner()


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    """Only the commands under test, registered the way services.cli registers them."""
    app = typer.Typer()
    generate.register(app)
    data.register(app)
    return app


@pytest.mark.parametrize("domain", ["arith", "gen:logic", "countdown", "simulation", "tabular"])
def test_generate_writes_jsonl_and_prints_one_object(app: typer.Typer, tmp_path: Path, domain: str) -> None:
    out = tmp_path / "problems.jsonl"
    result = runner.invoke(app, ["generate", domain, "--count", "7", "--seed", "3", "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    name = domain if domain.startswith("gen:") else f"gen:{domain}"
    assert json.loads(result.stdout) == {"domain": name, "count": 7, "seed": 3, "out": str(out)}
    assert result.stdout.count("\n") == 1
    problems = read_jsonl(out)
    assert len(problems) == 7 and all(isinstance(p, Problem) and p.answer for p in problems)


def test_generate_is_deterministic_and_takes_knobs(app: typer.Typer, tmp_path: Path) -> None:
    args = ["generate", "knights", "-n", "5", "--seed", "1", "-k", "people=5"]
    for name in ("a", "b"):
        assert runner.invoke(app, [*args, "-o", str(tmp_path / f"{name}.jsonl")]).exit_code == 0
    assert (tmp_path / "a.jsonl").read_text() == (tmp_path / "b.jsonl").read_text()
    assert all(len(json.loads(p.answer)["answer"]) == 5 for p in read_jsonl(tmp_path / "a.jsonl"))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["generate", "zebra"], "unknown generator 'zebra'"),
        (["generate", "arith", "-k", "digits"], "KEY=VALUE"),
        (["generate", "arith", "-k", "colour=red"], "unknown knob 'colour'"),
        (["data", "export-verl", "--sources", "gsm8k_train,nope"], "unknown dataset(s) nope"),
        (["data", "export-verl", "--sources", "gen:arith,aime24"], "source 'aime24' is an evaluation set"),
        (["data", "export-verl", "--sources", "gsm8k_train"], "'gsm8k_train': 4 of 7473"),
    ],
)
def test_bad_arguments_exit_2_naming_the_problem(app: typer.Typer, tmp_path: Path, args: list, message: str) -> None:
    result = runner.invoke(app, [*args, "--out", str(tmp_path / "x")])
    assert result.exit_code == 2
    assert message in " ".join(result.output.split()).replace("│", "").replace("  ", " ")
    assert not (tmp_path / "x").exists()


def test_export_verl_writes_train_and_test(app: typer.Typer, tmp_path: Path) -> None:
    args = ["data", "export-verl", "--sources", "gsm8k_train,gen:arith", "--out", str(tmp_path), "--drop-overlaps"]
    result = runner.invoke(app, [*args, "--limit", "24", "--test-fraction", "0.25", "--seed", "2", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary == {"out": str(tmp_path), "train": 35, "test": 12, "sources": {"gsm8k_train": 23, "gen:arith": 24},
                       "dropped": {"gsm8k_train": 1, "gen:arith": 0}}  # fmt: skip
    train = pq.read_table(tmp_path / "train.parquet")
    assert train.column_names == ["data_source", "prompt", "ability", "reward_model", "extra_info"]
    assert set(train.column("data_source").to_pylist()) == {"gsm8k_train", "gen:arith"}
    assert pq.read_table(tmp_path / "test.parquet").num_rows == 12


def test_data_list(app: typer.Typer) -> None:
    result = runner.invoke(app, ["data", "list", "--json"])
    datasets = json.loads(result.stdout)["datasets"]
    assert datasets["gpqa_diamond"] == "science" and datasets["gen:countdown"] == "simulation"


def test_commands_are_wired_into_k2think(tmp_path: Path) -> None:
    """The real `k2think` app (services.cli) exposes `generate` and the `data export-verl` sub-command."""
    from services.cli import app as k2think

    out = tmp_path / "arith.jsonl"
    result = runner.invoke(k2think, ["generate", "arith", "-n", "3", "-o", str(out), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["count"] == 3
    export = ["data", "export-verl", "--sources", "gen:arith", "--out", str(tmp_path / "verl"), "--json"]
    result = runner.invoke(k2think, export)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["train"] == 90
