"""`k2think eval` over a scripted backend: --json summary, resume, flags, reports, bad input, the remote path."""

from __future__ import annotations

import json
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from k2core.data import load_dataset
from services.commands import eval as eval_cmd
from tests.k2core.eval.fakes import FakeSolve, TruthJudge, result_of

runner = CliRunner()
PROBLEMS = load_dataset("gen:arith", 4, seed=0)
SUMMARY_KEYS = {"avg_pass_at_1", "pass_at_k", "maj_at_k", "mean_response_tokens", "tokens_per_request", "seconds_per_stage"}


def make_app() -> typer.Typer:
    app = typer.Typer()
    app.callback()(lambda: None)
    eval_cmd.register(app)
    return app


@pytest.fixture
def backend(monkeypatch: pytest.MonkeyPatch) -> dict:
    """Replace the backend with a scripted solve (two right answers of three) and a judge that knows the truth."""
    made: dict = {"solves": []}

    @asynccontextmanager
    async def fake_backend(target, settings):  # noqa: ANN001, ANN202
        solve = FakeSolve(PROBLEMS, lambda p, call: [p.answer, "-1", p.answer])
        made["solves"].append(solve)
        made["target"] = target
        made["early_majority"] = settings.pipeline.early_majority
        yield eval_cmd.Backend(solve, lambda request: request.check(settings, 8192), TruthJudge(PROBLEMS))

    monkeypatch.setattr(eval_cmd, "open_backend", fake_backend)
    return made


def invoke(*args: str):  # noqa: ANN201
    return runner.invoke(make_app(), ["eval", *args])


def test_json_summary_and_resume(backend: dict, tmp_path: Path) -> None:
    args = ("--dataset", "gen:arith", "--limit", "4", "--k", "2", "--n", "3", "--out", str(tmp_path), "--json")
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary.keys() >= SUMMARY_KEYS and summary["problems"] == 4 and summary["runs"] == 8
    assert summary["avg_pass_at_1"] == 1.0 and summary["pass_at_k"].keys() == {"1", "2"}
    assert json.loads((tmp_path / "summary.json").read_text())["runs"] == 8
    assert summary["avg_pass_at_1_ci95"] == [1.0, 1.0]
    assert "| k2think harness | 100.0% |" in (tmp_path / "eval.md").read_text() and (tmp_path / "eval.png").stat().st_size
    again = invoke(*args)
    assert again.exit_code == 0 and backend["solves"][-1].calls == []


def test_flags_reach_every_request(backend: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen = []
    original = FakeSolve.__call__

    async def spy(self, request):  # noqa: ANN001, ANN202
        seen.append(request)
        return await original(self, request)

    monkeypatch.setattr(FakeSolve, "__call__", spy)
    args = ["--dataset", "gen:arith", "--limit", "2", "--n", "2", "--no-plan", "--no-judge", "--max-tokens", "64"]
    result = invoke(*args, "--fewshot", "2", "--out", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert "avg pass@1" in result.stdout
    assert len(seen) == 2 and all(r.n == 2 and not r.plan and not r.judge for r in seen)
    assert all(len(r.demonstrations) == 2 and r.demonstrations == seen[0].demonstrations for r in seen)
    assert {(r.params.max_tokens, r.params.temperature, r.params.top_p) for r in seen} == {(64, 1.0, 0.95)}


def test_reports_write_files(backend: dict, tmp_path: Path) -> None:
    for report, extra in (("components", ()), ("selection", ()), ("scaling", ("--ns", "1,2"))):
        args = ("--report", report, "--dataset", "gen:arith", "--limit", "2", "--n", "3", *extra)
        result = invoke(*args, "--out", str(tmp_path), "--json")
        assert result.exit_code == 0, result.output
        data = json.loads(result.stdout)
        assert data["report"] == report and Path(data["png"]).exists() and Path(data["markdown"]).exists()
        assert (tmp_path / f"{report}.json").exists()
        assert backend["early_majority"] is (report == "scaling")  # the studies' selectors see every candidate


def test_sample_draws_a_seeded_subset_and_excludes_limit(backend: dict, tmp_path: Path) -> None:
    result = invoke("--dataset", "gsm8k_test", "--sample", "3", "--seed", "5", "--out", str(tmp_path), "--json")
    assert result.exit_code == 0, result.output
    ids = sorted({json.loads(line)["problem_id"] for line in (tmp_path / "results.jsonl").read_text().splitlines()})
    assert ids == sorted(p.id for p in load_dataset("gsm8k_test", sample=3, seed=5))
    clash = invoke("--dataset", "gsm8k_test", "--sample", "3", "--limit", "3", "--out", str(tmp_path / "x"))
    assert clash.exit_code != 0 and "--sample" in clash.output


@pytest.mark.parametrize(
    ("args", "hint"),
    [
        (("--dataset", "nope"), "--dataset"),
        (("--dataset", "gen:arith", "--target", "nohost"), "--target"),
        (("--dataset", "gen:arith", "--report", "selection", "--target", "127.0.0.1:1"), "--target"),
        (("--dataset", "gen:arith", "--report", "components", "--target", "127.0.0.1:1"), "--target"),
        (("--dataset", "gen:arith", "--dataset", "gen:logic", "--report", "scaling"), "--dataset"),
        (("--dataset", "gen:arith", "--ns", "1,x"), "--ns"),
        (("--dataset", "gen:arith", "--max-tokens", "100000"), "--max-tokens"),
        (("--dataset", "aime24", "--fewshot", "2"), "--fewshot"),
        (("--dataset", "gen:arith", "--fewshot", "40"), "--fewshot"),
        (("--dataset", "gen:arith", "--report", "components", "--replay-from", "."), "--replay-from"),
        (("--dataset", "gen:arith", "--report", "selection", "--replay-from", "no/such/dir"), "--replay-from"),
    ],
)
def test_bad_input_names_the_option(backend: dict, tmp_path: Path, args: tuple[str, ...], hint: str) -> None:
    result = invoke(*args, "--out", str(tmp_path))
    assert result.exit_code == 2 and hint in result.output


def test_remote_target_uses_one_gateway_client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import services.remote

    clients = []

    class FakeClient:
        def __init__(self, target, settings):  # noqa: ANN001
            self.target, self.requests, self.closed = target, [], False
            clients.append(self)

        async def solve(self, request):  # noqa: ANN001, ANN202
            self.requests.append(request)
            return result_of(["4"])

        async def close(self) -> None:
            self.closed = True

    monkeypatch.setattr(services.remote, "ReasonerClient", FakeClient)
    result = invoke("--dataset", "gen:arith", "--limit", "3", "--target", "127.0.0.1:50051", "--out", str(tmp_path), "--json")
    assert result.exit_code == 0, result.output
    assert len(clients) == 1 and clients[0].target == "127.0.0.1:50051" and clients[0].closed
    assert len(clients[0].requests) == 3 and json.loads(result.stdout)["runs"] == 3


@pytest.mark.slow
def test_real_eval_on_the_embedded_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("K2_PIPELINE__PLAN_MAX_TOKENS", "48")
    monkeypatch.setenv("K2_PIPELINE__JUDGE_MAX_TOKENS", "48")
    args = ("--dataset", "gen:arith", "--limit", "2", "--k", "1", "--n", "2", "--max-tokens", "192",
            "--temperature", "0", "--out", str(tmp_path))  # fmt: skip
    result = invoke(*args, "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert (summary["runs"], summary["errors"]) == (2, 0), (tmp_path / "results.jsonl").read_text()
    assert 0.0 <= summary["avg_pass_at_1"] <= 1.0 and 0 < summary["mean_response_tokens"] <= 192
    assert summary["tokens_per_request"]["planner"]["completion"] > 0
    assert summary["tokens_per_request"]["solver"]["completion"] > 0
    assert summary["seconds_per_stage"]["total"] > 0
    lines = (tmp_path / "results.jsonl").read_text().splitlines()
    assert len(lines) == 2 and all(len(json.loads(line)["candidates"]) == 2 for line in lines)
    # The instruction model answers one-digit arithmetic in \boxed{} on its own, without worked examples.
    assert all(c["answer"] is not None for line in lines for c in json.loads(line)["candidates"]), lines
    assert invoke(*args, "--json").exit_code == 0
    assert (tmp_path / "results.jsonl").read_text().splitlines() == lines, "a finished run is not redone"


def test_the_data_folder_setting_reaches_the_evaluated_problems(
    backend: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    (data / "math").mkdir(parents=True)
    (data / "math" / "aime25.jsonl").write_text('{"problem": "What is 1 + 1?", "answer": "2"}\n')
    monkeypatch.setenv("K2_DATA_DIR", str(data))
    seen: list[str] = []

    async def spy(self, request):  # noqa: ANN001, ANN202
        seen.append(request.problem)
        return result_of(["2"] * request.n)

    monkeypatch.setattr(FakeSolve, "__call__", spy)
    result = invoke("--dataset", "aime25", "--n", "1", "--no-judge", "--out", str(tmp_path / "out"), "--json")
    assert result.exit_code == 0, result.output
    assert len(seen) == 1 and seen[0].startswith("What is 1 + 1?")
    assert json.loads(result.stdout)["avg_pass_at_1"] == 1.0


def test_resuming_with_another_model_names_out(backend: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    args = ("--dataset", "gen:arith", "--limit", "2", "--out", str(tmp_path))
    assert invoke(*args).exit_code == 0
    monkeypatch.setenv("K2_SOLVER__EMBEDDED__QUANTISATION", "q8_0")
    again = invoke(*args)
    assert again.exit_code != 0 and "--out" in again.output and "q8_0" in again.output
