"""Before/after comparison of two evaluation folders: per-problem means over runs, a paired interval, the target
and guard verdicts, the per-question-type breakdown, refusals naming what differs, and the `k2think compare`
command with its exit status."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from k2core.data import load_dataset
from k2core.eval.compare import compare, gain_report, load_evaluation
from services.cli import app

PROTOCOL = {"dataset": "gen:tabular", "k": 2, "n": 1, "plan": False, "judge": False, "max_tokens": 384,
            "temperature": 1.0, "top_p": 0.95, "seed": 0, "limit": 40, "fewshot": 0, "sample": None}  # fmt: skip


def write_eval(folder: Path, outcomes: dict[str, list[bool]], solver: str, **protocol: object) -> Path:
    """An evaluation folder as `k2think eval --out` leaves it: config, model and one line per finished run."""
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({**PROTOCOL, **protocol, "data_dir": None}))
    (folder / "model.json").write_text(json.dumps({"solver": solver}))
    rows = [{"problem_id": p, "run": r, "domain": "tabular", "correct": ok}
            for p, runs in outcomes.items() for r, ok in enumerate(runs)]  # fmt: skip
    (folder / "results.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    return folder


def trained_pair(tmp_path: Path, before_right: int, after_right: int, problems: int = 40) -> tuple[Path, Path]:
    before = {f"p{i}": [i < before_right, False] for i in range(problems)}
    after = {f"p{i}": [i < after_right, i < after_right] for i in range(problems)}
    return (write_eval(tmp_path / "before", before, "base.gguf"), write_eval(tmp_path / "after", after, "trained.gguf"))


def test_scores_average_each_problems_runs_and_pair_them(tmp_path):
    before = write_eval(tmp_path / "b", {"a": [True, False], "b": [False, False], "c": [True, True]}, "base")
    after = write_eval(tmp_path / "a", {"a": [True, True], "b": [True, False], "c": [True, True], "d": [True]}, "new")
    assert load_evaluation(before).scores == {"a": 0.5, "b": 0.0, "c": 1.0}
    with (before / "results.jsonl").open("a") as results:  # a retried pair's newer record wins; a torn line is skipped
        results.write(json.dumps({"problem_id": "b", "run": 1, "domain": "tabular", "correct": True}) + "\n")
        results.write('{"problem_id": "c", "ru')
    assert load_evaluation(before).scores == {"a": 0.5, "b": 0.5, "c": 1.0}
    (before / "results.jsonl").write_text("".join(
        line + "\n" for line in (before / "results.jsonl").read_text().splitlines()[:-2]))  # fmt: skip
    row = compare(load_evaluation(before), load_evaluation(after))
    assert row["problems"] == 3, "only problems both sides finished"
    assert row["before"]["accuracy"] == pytest.approx(0.5)
    assert row["after"]["accuracy"] == pytest.approx(0.8333, abs=1e-4)
    assert row["gain"] == pytest.approx(0.3333, abs=1e-4)
    assert (row["better"], row["worse"], row["same"]) == (2, 0, 1)
    assert row["before"]["models"] == {"solver": "base"} and row["after"]["models"] == {"solver": "new"}
    low, high = row["gain_ci95"]
    assert 0 <= low <= row["gain"] <= high


def test_a_generated_dataset_breaks_the_gain_down_by_question_type(tmp_path):
    problems = load_dataset("gen:tabular", 40, 0)
    kinds = {p.id: p.meta["question"]["type"] for p in problems}
    lookups = [p for p, kind in kinds.items() if kind == "lookup"]
    before = write_eval(tmp_path / "b", {p: [False, False] for p in kinds}, "base")
    after = write_eval(tmp_path / "a", {p: [p in lookups, False] for p in kinds}, "trained")
    report = gain_report((before, after), None, tmp_path / "out")
    by_type = report["target"]["by_type"]
    assert set(by_type) == set(kinds.values()) and sum(row["problems"] for row in by_type.values()) == 40
    assert by_type["lookup"] == {"problems": len(lookups), "before": 0.0, "after": 0.5,
                                 "correct_runs": {"before": 0, "after": len(lookups)}, "gain": 0.5}  # fmt: skip
    assert all(row["gain"] == 0 for kind, row in by_type.items() if kind != "lookup")
    table = (tmp_path / "out" / "gain.md").read_text()
    assert f"| lookup | {len(lookups)} | 0.0% (0 of {2 * len(lookups)}) | 50.0% ({len(lookups)} of" in table


def test_a_file_dataset_has_no_breakdown(tmp_path):
    outcomes = {f"gsm8k_test-{i}": [i % 2 == 0] for i in range(10)}
    before = write_eval(tmp_path / "b", outcomes, "base", dataset="gsm8k_test", k=1)
    after = write_eval(tmp_path / "a", outcomes, "trained", dataset="gsm8k_test", k=1)
    assert "by_type" not in compare(load_evaluation(before), load_evaluation(after))


def test_a_clear_gain_meets_the_target_and_an_unchanged_guard_holds(tmp_path):
    before, after = trained_pair(tmp_path, before_right=6, after_right=20)
    guard_outcomes = {f"g{i}": [i % 4 == 0] for i in range(40)}
    guard = (write_eval(tmp_path / "gb", guard_outcomes, "base", dataset="gsm8k_test", k=1),
             write_eval(tmp_path / "ga", guard_outcomes, "trained", dataset="gsm8k_test", k=1))  # fmt: skip
    report = gain_report((before, after), guard, tmp_path / "out")
    assert report["target"]["gain"] == pytest.approx(0.425) and report["target"]["gain_ci95"][0] > 0.1
    assert report["target_met"] and report["guard_held"] and report["guard"]["gain"] == 0
    assert {p.name for p in (tmp_path / "out").iterdir()} == {"gain.json", "gain.md", "gain.png"}
    assert json.loads((tmp_path / "out" / "gain.json").read_text())["target_met"] is True
    assert "+42.5 points" in (tmp_path / "out" / "gain.md").read_text()


def test_a_small_or_uncertain_gain_misses_and_a_clear_drop_breaks_the_guard(tmp_path):
    before, after = trained_pair(tmp_path, before_right=6, after_right=5)  # 7.5% -> 12.5%: +5 points
    drop = (write_eval(tmp_path / "gb", {f"g{i}": [i < 30] for i in range(40)}, "base"),
            write_eval(tmp_path / "ga", {f"g{i}": [i < 5] for i in range(40)}, "trained"))  # fmt: skip
    report = gain_report((before, after), drop, tmp_path / "out")
    assert not report["target_met"] and not report["guard_held"]


def test_folders_run_differently_are_refused_naming_the_setting(tmp_path):
    before = write_eval(tmp_path / "b", {"a": [True]}, "base")
    after = write_eval(tmp_path / "a", {"a": [True]}, "new", temperature=0.7)
    with pytest.raises(ValueError, match=r"temperature: 1\.0 vs 0\.7"):
        compare(load_evaluation(before), load_evaluation(after))
    with pytest.raises(ValueError, match="no results.jsonl"):
        load_evaluation(tmp_path / "missing")


def test_cli_exit_status_follows_the_verdicts_and_bad_options_name_themselves(tmp_path):
    runner = CliRunner()
    met = trained_pair(tmp_path / "met", 6, 20)
    result = runner.invoke(app, ["compare", "--before", str(met[0]), "--after", str(met[1]),
                                 "--out", str(tmp_path / "o1"), "--json"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["target_met"] is True
    missed = trained_pair(tmp_path / "missed", 6, 5)
    result = runner.invoke(app, ["compare", "--before", str(missed[0]), "--after", str(missed[1]),
                                 "--out", str(tmp_path / "o2")])  # fmt: skip
    assert result.exit_code == 1 and "not met" in result.output
    result = runner.invoke(app, ["compare", "--before", str(met[0]), "--after", str(met[1]), "--guard-before",
                                 str(met[0]), "--out", str(tmp_path / "o3")])  # fmt: skip
    assert result.exit_code == 2 and "--guard-after" in result.output
    result = runner.invoke(app, ["compare", "--before", str(tmp_path / "nope"), "--after", str(met[1]),
                                 "--out", str(tmp_path / "o4")], env={"COLUMNS": "300"})  # fmt: skip
    assert result.exit_code == 2 and "no results.jsonl" in result.output
