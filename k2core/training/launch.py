"""The RayJob entrypoint: write the job's data to the shared volume (decontaminated parquet), build the verl config,
run verl's trainer, then merge its newest checkpoint into an HF folder ``<checkpoint.uri>/hf`` with verl's model
merger (the SFT job's is the folder the RLVR job starts from; the RLVR job's is the one the chart serves)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from k2core.config import Settings
from k2core.data import data_dir
from k2core.training.config import HF_DIR, JOB_KINDS, TrainConfig, load_config
from k2core.training.rl_data import export_rl_parquet
from k2core.training.sft_data import sft_splits, write_sft_parquet
from k2core.training.verl_config import SFT_TRAIN_FILE, SFT_VAL_FILE, build_verl_config

LATEST_FILE = "latest_checkpointed_iteration.txt"


def prepare_data(config: TrainConfig, data_dir: Path | None = None) -> dict[str, int]:
    """Write the parquet files the verl config points at (dataset files from ``data_dir``, else the packaged data);
    returns the row count of each split."""
    out = Path(config.data.dir)
    if config.kind == "rlvr":
        return export_rl_parquet(config.data, out, data_dir)
    splits = sft_splits(config.data, data_dir)
    write_sft_parquet(splits["train"], out / SFT_TRAIN_FILE)
    write_sft_parquet(splits["test"], out / SFT_VAL_FILE)
    return {split: len(rows) for split, rows in splits.items()}


def newest_checkpoint(config: TrainConfig) -> Path:
    """The folder verl's model merger reads: ``global_step_<latest>`` (its ``actor/`` for RLVR)."""
    if not config.checkpoint.uri:
        raise ValueError("checkpoint.uri: the cluster job needs a checkpoint folder on the shared volume")
    root = Path(config.checkpoint.uri.removeprefix("file://"))
    tracker = root / LATEST_FILE
    if not tracker.is_file():
        raise FileNotFoundError(f"{tracker}: verl wrote no checkpoint")
    folder = root / f"global_step_{int(tracker.read_text().strip())}"
    return folder / "actor" if config.kind == "rlvr" else folder


def merged_hf_dir(config: TrainConfig) -> str:
    """Where the merged HF folder of a job goes: ``<checkpoint.uri>/hf``."""
    return f"{(config.checkpoint.uri or '').removeprefix('file://').rstrip('/')}/{HF_DIR}"


def merge_to_hf(config: TrainConfig) -> Path:
    """verl's FSDP model merger: the newest checkpoint's shards as safetensors + tokenizer + config."""
    from verl.model_merger.base_model_merger import ModelMergerConfig
    from verl.model_merger.fsdp_model_merger import FSDPModelMerger

    checkpoint = newest_checkpoint(config)
    target = merged_hf_dir(config)
    merger = FSDPModelMerger(
        ModelMergerConfig(
            operation="merge",
            backend="fsdp",
            local_dir=str(checkpoint),
            target_dir=target,
            hf_model_config_path=str(checkpoint / "huggingface"),
        )  # fmt: skip
    )
    merger.merge_and_save()
    merger.cleanup()
    return Path(target)


def run_on_cluster(config: TrainConfig, data_dir: Path | None = None) -> None:
    """Prepare data, hand the resolved config to verl's own main (validation, Ray, trainer), merge the result."""
    print(f"data: {prepare_data(config, data_dir)}", file=sys.stderr)
    verl_config = build_verl_config(config)
    if config.kind == "rlvr":
        from verl.trainer.main_ppo import main
    else:
        from verl.trainer.sft_trainer_ray import main
    main(verl_config)
    print(f"merged model: {merge_to_hf(config)}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m k2core.training.launch {sft|rlvr} --config FILE``."""
    parser = argparse.ArgumentParser(prog="k2core.training.launch", description=__doc__)
    parser.add_argument("kind", choices=JOB_KINDS)
    parser.add_argument("--config", required=True, type=Path)
    args = parser.parse_args(argv)
    config = load_config(args.config)
    if config.kind != args.kind:
        parser.error(f"--config: {args.config} is a {config.kind} job, not {args.kind}")
    run_on_cluster(config, data_dir(Settings()))  # the job's entry point: K2_DATA_DIR applies here
    return 0


if __name__ == "__main__":
    sys.exit(main())
