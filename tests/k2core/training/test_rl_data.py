"""RL data: six-domain verl parquet in the chat format, readable by verl's own RL dataset."""

from __future__ import annotations

import pyarrow.parquet as pq

from k2core.rewards import domain_of
from k2core.training.chat import SYSTEM_PROMPT
from k2core.training.config import SIX_DOMAIN_SOURCES, DataConfig
from k2core.training.rl_data import export_rl_parquet, rl_records


def test_records_cover_six_domains_with_system_prompt():
    splits = rl_records(DataConfig(limit=4, test_fraction=0.25))
    assert (len(splits["train"]), len(splits["test"])) == (18, 6)
    rows = splits["train"] + splits["test"]
    assert {r["data_source"] for r in rows} == set(SIX_DOMAIN_SOURCES)
    assert {domain_of(r["data_source"]) for r in rows} == {"math", "code", "science", "logic", "simulation", "tabular"}
    for row in rows:
        assert row["prompt"][0] == {"role": "system", "content": SYSTEM_PROMPT}
        assert row["prompt"][1]["role"] == "user" and row["reward_model"]["ground_truth"]
    assert [r["extra_info"]["index"] for r in splits["train"]] == list(range(18))


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
