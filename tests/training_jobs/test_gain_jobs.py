"""The measured-gain job files (training-jobs/gain/): each parses; each RLVR run starts from its SFT output."""

from __future__ import annotations

from pathlib import Path

import pytest

from k2core.data import load_dataset
from k2core.training.config import parse_config

GAIN = Path(__file__).resolve().parents[2] / "training-jobs" / "gain"
# Each run's traces: runs 1 and 2 share one folder (the second extended it); run 3 adds aimed traces to them, and
# run 4 trains on the domain's worked solutions alone.
TRACES = {
    "": "runs/gain/traces/traces.jsonl",
    "-run2": "runs/gain/traces/traces.jsonl",
    "-run3": "runs/gain3/traces.jsonl",
    "-run4": None,
}
RUNS = tuple(TRACES)


@pytest.mark.parametrize("run", RUNS)
def test_rlvr_starts_from_the_sft_output_of_the_same_run(run: str) -> None:
    sft = parse_config((GAIN / f"sft-tabular{run}.yaml").read_text())
    rlvr = parse_config((GAIN / f"rlvr-tabular{run}.yaml").read_text())
    assert (sft.kind, rlvr.kind) == ("sft", "rlvr")
    assert rlvr.local.model == f"{sft.local.out}/hf"
    assert sft.local.traces == TRACES[run]


def test_the_runs_write_to_separate_folders() -> None:
    outs = [parse_config(path.read_text()).local.out for path in sorted(GAIN.glob("*.yaml"))]
    assert len(outs) == len(set(outs)) == 2 * len(RUNS)


def test_worked_solutions_come_from_problems_the_evaluation_never_sees() -> None:
    sft = parse_config((GAIN / "sft-tabular-run4.yaml").read_text()).local
    assert sft.dataset == "gen:tabular" and sft.seed not in (0, 1000, 2000), "evaluation, RLVR and traces seeds"
    evaluated = {p.prompt for p in load_dataset("gen:tabular", 100, 0)}
    trained = load_dataset(sft.dataset, sft.limit, sft.seed)
    assert all(p.meta["solution"] for p in trained)
    assert not evaluated & {p.prompt for p in trained}
