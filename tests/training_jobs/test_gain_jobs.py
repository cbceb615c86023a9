"""The measured-gain job files (training-jobs/gain/): each parses; each RLVR run starts from its SFT output."""

from __future__ import annotations

from pathlib import Path

import pytest

from k2core.training.config import parse_config

GAIN = Path(__file__).resolve().parents[2] / "training-jobs" / "gain"
# Each run's traces: runs 1 and 2 share one folder (the second extended it); run 3 adds aimed traces to them.
TRACES = {
    "": "runs/gain/traces/traces.jsonl",
    "-run2": "runs/gain/traces/traces.jsonl",
    "-run3": "runs/gain3/traces.jsonl",
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
