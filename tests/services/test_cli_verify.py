"""`k2think verify`: one JSON object with --json, stdin with --response -, errors named, rich rendering."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from services.commands import verify

runner = CliRunner()
K2THINK = Path(sys.executable).with_name("k2think")


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    """Only the verify command, registered the way services.cli registers it (a group, as in k2think)."""
    app = typer.Typer()
    app.callback()(lambda: None)
    verify.register(app)
    return app


@pytest.mark.parametrize(
    ("domain", "truth", "response", "correct", "extracted"),
    [
        ("math", "\\frac{1}{2}", "<think>hm</think>The answer is $0.5$.", True, "0.5"),
        ("aime24", "204", "\\boxed{205}", False, "205"),
        ("science", "C", "Answer: (C)", True, "C"),
        (
            "code",
            json.dumps({"inputs": ["2\n"], "outputs": ["4"]}),
            "```python\nprint(2 * int(input()))\n```",
            True,
            None,
        ),
    ],
)
def test_json_output(app: typer.Typer, domain: str, truth: str, response: str, correct: bool, extracted) -> None:
    result = runner.invoke(
        app, ["verify", "--domain", domain, "--ground-truth", truth, "--response", response, "--json"]
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert set(payload) == {"score", "correct", "extracted", "reason"}
    assert payload["correct"] is correct and payload["score"] == float(correct)
    if extracted is not None:
        assert payload["extracted"] == extracted


def test_response_from_stdin(app: typer.Typer) -> None:
    result = runner.invoke(app, ["verify", "-d", "math", "-g", "27", "-r", "-", "--json"], input="#### 27.0\n")
    assert result.exit_code == 0 and json.loads(result.stdout)["correct"] is True


def test_no_answer_is_a_score_not_an_error(app: typer.Typer) -> None:
    result = runner.invoke(app, ["verify", "-d", "math", "-g", "27", "-r", "no idea", "--json"])
    payload = json.loads(result.stdout)
    assert result.exit_code == 0 and payload["score"] == 0.0 and payload["extracted"] is None and payload["reason"]


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["-d", "astrology", "-g", "1", "-r", "1"], "--domain"),
        (["-d", "science", "-g", "Z", "-r", "Answer: A"], "--ground-truth"),
        (["-d", "code", "-g", "{broken", "-r", "print(1)"], "--ground-truth"),
    ],
)
def test_bad_parameters_are_named(app: typer.Typer, args: list[str], named: str) -> None:
    result = runner.invoke(app, ["verify", *args, "--json"])
    assert result.exit_code == 2 and named in result.stderr and result.stdout == ""


def test_rich_rendering(app: typer.Typer) -> None:
    result = runner.invoke(app, ["verify", "-d", "science", "-g", "B", "-r", "**D**"])
    assert result.exit_code == 0
    assert "incorrect" in result.stdout and "chose D" in result.stdout


def test_installed_entry_point_reads_stdin() -> None:
    if not K2THINK.exists():
        pytest.skip("k2think entry point not installed in this environment")
    done = subprocess.run(
        [str(K2THINK), "verify", "--domain", "math", "--ground-truth", "\\frac{1}{2}", "--response", "-", "--json"],
        input="<think>x</think>\\boxed{1/2}",
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["correct"] is True


def test_the_cli_gives_the_code_sandbox_its_k2_sandbox_settings() -> None:
    """The edge reads K2_SANDBOX__*: a program sleeping 2 s passes under the default 10 s limit, not under 1 s."""
    truth = json.dumps({"inputs": [""], "outputs": ["done"]})
    response = "```python\nimport time\ntime.sleep(2)\nprint('done')\n```"
    argv = [str(K2THINK), "verify", "--domain", "code", "--ground-truth", truth, "--response", response, "--json"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("K2_SANDBOX__")}
    scores = [
        json.loads(subprocess.run(argv, capture_output=True, text=True, env=e, timeout=120, check=True).stdout)
        for e in (env, {**env, "K2_SANDBOX__TIMEOUT_S": "1"})
    ]
    assert scores[0]["correct"] and not scores[1]["correct"] and "timeout" in scores[1]["reason"]
