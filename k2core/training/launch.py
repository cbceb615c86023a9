"""The RayJob entrypoint: write the job's data to the shared volume, build the verl config, run verl's trainer."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from k2core.training.config import JOB_KINDS, TrainConfig, load_config
from k2core.training.rl_data import export_rl_parquet
from k2core.training.sft_data import sft_splits, write_sft_parquet
from k2core.training.verl_config import SFT_TRAIN_FILE, SFT_VAL_FILE, build_verl_config


def prepare_data(config: TrainConfig) -> dict[str, int]:
    """Write the parquet files the verl config points at; returns the row count of each split."""
    out = Path(config.data.dir)
    if config.kind == "rlvr":
        return export_rl_parquet(config.data, out)
    splits = sft_splits(config.data)
    write_sft_parquet(splits["train"], out / SFT_TRAIN_FILE)
    write_sft_parquet(splits["test"], out / SFT_VAL_FILE)
    return {split: len(rows) for split, rows in splits.items()}


def run_on_cluster(config: TrainConfig) -> None:
    """Prepare data, then hand the resolved config to verl's own main (validation, Ray, trainer)."""
    print(f"data: {prepare_data(config)}", file=sys.stderr)
    verl_config = build_verl_config(config)
    if config.kind == "rlvr":
        from verl.trainer.main_ppo import main
    else:
        from verl.trainer.sft_trainer_ray import main
    main(verl_config)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m k2core.training.launch {sft|rlvr} --config FILE``."""
    parser = argparse.ArgumentParser(prog="k2core.training.launch", description=__doc__)
    parser.add_argument("kind", choices=JOB_KINDS)
    parser.add_argument("--config", required=True, type=Path)
    args = parser.parse_args(argv)
    config = load_config(args.config)
    if config.kind != args.kind:
        parser.error(f"--config: {args.config} is a {config.kind} job, not {args.kind}")
    run_on_cluster(config)
    return 0


if __name__ == "__main__":
    sys.exit(main())
