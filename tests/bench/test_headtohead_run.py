"""Running the head-to-head: systems interleaved in rotating order with fresh seeds per round, failures recorded,
the journal resumed; and a short real run (slow) of the reference flow and k2think on the shared backend."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.headtohead import cli
from bench.headtohead.outcome import Outcome, SystemFn
from bench.headtohead.run import Journal, interleaved
from bench.headtohead.workload import load_problems, sampling_seed
from k2core.data import Problem


def _system(name: str, seen: list[tuple[str, str, int]]) -> SystemFn:
    async def run(problem: Problem, seed: int) -> Outcome:
        seen.append((name, problem.id, seed))
        if name == "b" and seed == sampling_seed(0, 1, 0):
            raise RuntimeError("backend went away")
        return Outcome(correct=True)

    return run


async def _direct(system: SystemFn, problem: Problem, seed: int) -> Outcome:
    try:
        return await system(problem, seed)
    except RuntimeError as exc:
        return Outcome(error=str(exc))


async def test_rounds_use_fresh_seeds_rotate_the_order_and_record_failures(tmp_path: Path) -> None:
    seen: list[tuple[str, str, int]] = []
    problems = load_problems("gen:arith", 2, seed=0)
    journal = Journal(tmp_path / "j.tmp", {"limit": 2})
    systems = {"a": _system("a", seen), "b": _system("b", seen)}
    results = await interleaved(systems, problems, seed=0, rounds=2, journal=journal, run=_direct)
    assert [(o.problem_id, o.round) for o in results["a"]] == [(problems[0].id, 0), (problems[1].id, 0),
                                                              (problems[0].id, 1), (problems[1].id, 1)]  # fmt: skip
    assert results["b"][2].error == "backend went away" and results["b"][2].round == 1
    assert {seed for name, _, seed in seen if name == "a"} == {0, 1, 100_000, 100_001}
    assert [name for name, _, _ in seen[:4]] == ["a", "b", "b", "a"]


async def test_a_journal_with_the_same_settings_resumes_and_other_settings_start_over(tmp_path: Path) -> None:
    path, problems = tmp_path / "j.tmp", load_problems("gen:arith", 2, seed=0)
    first: list[tuple[str, str, int]] = []
    journal = Journal(path, {"limit": 2})
    await interleaved({"a": _system("a", first)}, problems[:1], seed=0, rounds=1, journal=journal, run=_direct)
    again: list[tuple[str, str, int]] = []
    resumed = await interleaved({"a": _system("a", again)}, problems, seed=0, rounds=1, journal=Journal(path, {"limit": 2}),
                                run=_direct)  # fmt: skip
    assert [pid for _, pid, _ in again] == [problems[1].id] and len(resumed["a"]) == 2
    assert Journal(path, {"limit": 3}).done == {} and len(path.read_text().splitlines()) == 1


def test_bad_options_name_the_option() -> None:
    for argv, option in ((["--systems", "reference,nope"], "--systems"), (["--rounds", "0"], "--rounds"),
                         (["--slots", "2"], "--slots")):  # fmt: skip
        with pytest.raises(ValueError, match=option):
            cli.settings_of(cli.parser().parse_args(argv))
    settings = cli.settings_of(cli.parser().parse_args(["--reference-script", "main.py"]))
    assert settings["systems"][-1] == "reference-script" and settings["slots"] == 6


@pytest.mark.slow
@pytest.mark.longrun  # the reference's planner and judge calls are uncapped by design: minutes per problem on 2 cores
def test_a_short_real_run_of_the_reference_flow_and_k2think(tmp_path: Path) -> None:
    argv = ["--dataset", "gen:arith", "--limit", "2", "--rounds", "1", "--systems", "reference,k2think",
            "--max-tokens", "160", "--reference-max-tokens", "160", "--name", "h2h", "--out", str(tmp_path)]  # fmt: skip
    assert cli.main(argv) == 0
    doc = json.loads((tmp_path / "h2h.json").read_text())
    for name in ("reference", "k2think"):
        row = doc["systems"][name]
        assert (row["problems"], row["errors"]) == (2, 0), doc["outcomes"][name]
        assert row["completion_tokens_per_problem"] > 0 and row["wall_s_per_problem"] > 0 and row["calls_per_problem"] >= 3
    assert doc["systems"]["reference"]["judge_calls_per_problem"] == 2
    assert doc["verdict"] and "| reference | 2 × 1 |" in (tmp_path / "h2h.md").read_text()


def test_results_can_be_written_from_the_journal_of_a_run_still_going(tmp_path: Path) -> None:
    argv = ["--dataset", "gen:arith", "--limit", "2", "--rounds", "1", "--systems", "reference,k2think",
            "--name", "h2h", "--out", str(tmp_path)]  # fmt: skip
    with pytest.raises(SystemExit):
        cli.main([*argv, "--from-journal"])  # no journal yet: nothing to write from
    settings = cli.settings_of(cli.parser().parse_args(argv))
    journal = Journal(tmp_path / "h2h.journal.jsonl", cli.journal_header(settings))
    problem = load_problems("gen:arith", 2, seed=0)[0]
    journal.add("reference", Outcome(correct=True, seconds=9.0, completion_tokens=900, problem_id=problem.id))
    journal.add("k2think", Outcome(correct=True, seconds=3.0, completion_tokens=300, problem_id=problem.id))
    assert cli.main([*argv, "--from-journal"]) == 0
    doc = json.loads((tmp_path / "h2h.json").read_text())
    assert doc["notes"]["partial"] == "written from the journal: 2 of 4 runs"
    assert doc["targets"]["speedup"] == pytest.approx(3.0) and doc["targets"]["token_saving"] == pytest.approx(2 / 3)
    assert doc["targets_failures_counted"] is None and "failed runs counted" not in doc["notes"]
    second = load_problems("gen:arith", 2, seed=0)[1]
    failed = Outcome(error="JSONDecodeError: x", seconds=21.0, completion_tokens=2100, problem_id=second.id)
    journal.add("reference", failed)
    journal.add("k2think", Outcome(correct=True, seconds=3.0, completion_tokens=300, problem_id=second.id))
    assert cli.main([*argv, "--from-journal"]) == 0
    doc = json.loads((tmp_path / "h2h.json").read_text())
    assert doc["targets"]["speedup"] == pytest.approx(3.0) and doc["targets"]["problems"] == 1
    assert doc["notes"]["complete"] == "written from the journal: 4 of 4 runs" and "partial" not in doc["notes"]
    assert doc["targets_failures_counted"]["speedup"] == pytest.approx(5.0)
    assert doc["targets_failures_counted"]["problems"] == 2
    assert "5.00× lower" in doc["notes"]["failed runs counted"]
    md = (tmp_path / "h2h.md").read_text()
    assert "- failed runs counted: each failed run as a wrong answer" in md and "![head-to-head](h2h.png)" in md
    assert (tmp_path / "h2h.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_a_journal_line_torn_by_a_kill_is_dropped_and_its_run_redone(tmp_path: Path) -> None:
    header = {"dataset": "gen:arith", "limit": 2}
    journal = Journal(tmp_path / "h2h.journal.jsonl", header)
    journal.add("k2think", Outcome(correct=True, seconds=3.0, problem_id="a"))
    with journal.path.open("a") as sink:
        sink.write('{"system": "k2think", "problem_id": "b", "cor')  # the kill came mid-write
    assert Journal(journal.path, header, read=True).done["k2think"][0].problem_id == "a"  # a reader skips it
    resumed = Journal(journal.path, header)
    assert resumed.has("k2think", "a", 0) and not resumed.has("k2think", "b", 0)
    resumed.add("k2think", Outcome(correct=False, seconds=4.0, problem_id="b"))
    assert [o.problem_id for o in Journal(journal.path, header).done["k2think"]] == ["a", "b"]
