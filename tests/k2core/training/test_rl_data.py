"""RL data: verl parquet over the training sources in the chat format, readable by verl's own RL dataset, with no
evaluation set in it."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest

from k2core.data.decontam import EVAL_DATASETS, ContaminationError
from k2core.rewards import domain_of
from k2core.training.chat import SYSTEM_PROMPT
from k2core.training.config import TRAINING_SOURCES, DataConfig
from k2core.training.rl_data import export_rl_parquet, rl_records


def test_records_cover_the_training_sources_with_system_prompt():
    splits = rl_records(DataConfig(limit=4, test_fraction=0.25))
    assert (len(splits["train"]), len(splits["test"])) == (15, 5)
    rows = splits["train"] + splits["test"]
    assert {r["data_source"] for r in rows} == set(TRAINING_SOURCES)
    assert not {r["data_source"] for r in rows} & set(EVAL_DATASETS)
    assert {domain_of(r["data_source"]) for r in rows} == {"math", "logic", "simulation", "tabular"}
    for row in rows:
        assert row["prompt"][0] == {"role": "system", "content": SYSTEM_PROMPT}
        assert row["prompt"][1]["role"] == "user" and row["reward_model"]["ground_truth"]
    assert [r["extra_info"]["index"] for r in splits["train"]] == list(range(15))


def test_gsm8k_train_overlaps_its_test_set_unless_the_overlaps_are_dropped():
    with pytest.raises(ContaminationError, match="'gsm8k_train'.*gsm8k_test"):
        rl_records(DataConfig(sources=["gsm8k_train"], limit=30))
    splits = rl_records(DataConfig(sources=["gsm8k_train"], limit=30, test_fraction=0.0, drop_overlaps=True))
    ids = {r["extra_info"]["id"] for r in splits["train"]}
    assert len(ids) == 29 and "gsm8k_train-20" not in ids


def test_parquet_is_read_by_verls_rl_dataset(tmp_path, tokenizer):
    from omegaconf import OmegaConf
    from verl.utils.dataset.rl_dataset import RLHFDataset

    counts = export_rl_parquet(DataConfig(sources=["gen:arith", "gsm8k_train"], limit=3, test_fraction=0.0), tmp_path)
    assert counts == {"train": 6, "test": 0}
    assert pq.read_table(tmp_path / "test.parquet").num_rows == 0
    config = OmegaConf.create(
        {
            "prompt_key": "prompt",
            "max_prompt_length": 4096,
            "filter_overlong_prompts": False,
            "truncation": "error",
            "return_raw_chat": True,
            "cache_dir": str(tmp_path / "cache"),
        }
    )
    dataset = RLHFDataset(str(tmp_path / "train.parquet"), tokenizer, config)
    assert len(dataset) == 6
    item = dataset[0]
    assert item["data_source"] == "gen:arith"
    assert item["reward_model"]["ground_truth"].isdigit()
    assert item["raw_prompt"][0]["role"] == "system"
