"""RL prompts as verl parquet: k2core datasets over the six domains, each prompt in the AM-Thinking chat format."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from k2core.data import load_dataset, verl_record, write_verl_parquet
from k2core.data.decontam import decontaminate
from k2core.data.export import split_problems
from k2core.training.chat import prompt_messages
from k2core.training.config import DataConfig


def rl_records(data: DataConfig, data_dir: Path | None = None) -> dict[str, list[dict[str, Any]]]:
    """``train`` and ``test`` verl rows (files from ``data_dir``, else the packaged data), decontaminated; each source
    is split on its own with a seeded shuffle."""
    splits: dict[str, list[dict[str, Any]]] = {"train": [], "test": []}
    for source in data.sources:
        problems = decontaminate(
            source, load_dataset(source, data.limit, data.seed, data_dir), data.drop_overlaps, data_dir
        )
        train, test = split_problems(problems, data.test_fraction, f"{source}:{data.seed}")
        for split, chunk in (("train", train), ("test", test)):
            for problem in chunk:
                record = verl_record(problem, source, split, len(splits[split]))
                record["prompt"] = prompt_messages(problem.prompt)
                splits[split].append(record)
    return splits


def export_rl_parquet(data: DataConfig, out_dir: Path, data_dir: Path | None = None) -> dict[str, int]:
    """Write ``train.parquet`` and ``test.parquet``; returns the row count of each split."""
    splits = rl_records(data, data_dir)
    for split, rows in splits.items():
        write_verl_parquet(rows, out_dir / f"{split}.parquet")
    return {split: len(rows) for split, rows in splits.items()}
