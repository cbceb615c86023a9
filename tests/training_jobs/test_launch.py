"""The RayJob entrypoint's data step: the parquet files the verl config points at are written where it points."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from k2core.training.config import load_config
from k2core.training.launch import main, merged_hf_dir, newest_checkpoint, prepare_data
from k2core.training.verl_config import build_verl_config

REPO = Path(__file__).resolve().parents[2]
JOBS = REPO / "training-jobs"


@pytest.mark.parametrize("kind", ["rlvr", "sft"])
def test_prepare_data_writes_the_files_verl_reads(kind, tmp_path):
    config = load_config(JOBS / kind / "config.yaml")
    config.data.dir, config.data.limit, config.data.traces = str(tmp_path), 5, None
    counts = prepare_data(config)
    verl_data = build_verl_config(config).data
    assert pq.read_table(verl_data.train_files).num_rows == counts["train"] > 0
    assert pq.read_table(verl_data.val_files).num_rows == counts["test"]


def test_launcher_refuses_a_job_file_of_the_other_kind(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["rlvr", "--config", str(JOBS / "sft" / "config.yaml")])
    assert exit_info.value.code == 2 and "is a sft job" in capsys.readouterr().err


@pytest.mark.parametrize(("kind", "leaf"), [("rlvr", "global_step_40/actor"), ("sft", "global_step_40")])
def test_the_merger_reads_the_checkpoint_verl_marked_newest(kind, leaf, tmp_path):
    config = load_config(JOBS / kind / "config.yaml")
    config.checkpoint.uri = str(tmp_path)
    with pytest.raises(FileNotFoundError, match="latest_checkpointed_iteration.txt"):
        newest_checkpoint(config)
    (tmp_path / "latest_checkpointed_iteration.txt").write_text("40\n")
    assert newest_checkpoint(config) == tmp_path / leaf
    assert merged_hf_dir(config) == f"{tmp_path}/hf"
