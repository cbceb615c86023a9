"""The training job file: one typed tree for data, checkpoints, the cluster, the local CPU run and verl overrides."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

JobKind = Literal["sft", "rlvr"]
JOB_KINDS: tuple[str, ...] = ("sft", "rlvr")
SIX_DOMAIN_SOURCES: tuple[str, ...] = (
    "gsm8k_train",
    "humaneval",
    "gpqa_diamond",
    "gen:logic",
    "gen:simulation",
    "gen:tabular",
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DataConfig(_Strict):
    """Which k2core datasets feed the job and where their parquet files go (a PVC path on the cluster)."""

    sources: list[str] = Field(default_factory=lambda: list(SIX_DOMAIN_SOURCES))
    limit: int | None = None
    seed: int = 0
    test_fraction: float = 0.05
    dir: str = "/mnt/k2think/data"
    traces: str | None = None


class CheckpointConfig(_Strict):
    """Where checkpoints go (local path, ``file://`` URI or PVC mount), how often, and how many are kept."""

    uri: str | None = None
    every: int = Field(default=10, ge=1)
    keep: int = Field(default=2, ge=1)


class RewardConfig(_Strict):
    """Reward knobs passed to ``k2core.rewards.compute_score`` (verl ``reward_kwargs``)."""

    format_weight: float = Field(default=0.0, ge=0.0, le=1.0)


class WorkerGroupConfig(_Strict):
    """One RayCluster worker group: GPU pods of one shape."""

    name: str = "gpu"
    replicas: int = Field(default=1, ge=1)
    gpus: int = Field(default=8, ge=1)
    cpu: str = "32"
    memory: str = "256Gi"
    shm: str = "64Gi"


class HeadConfig(_Strict):
    """The Ray head pod (runs the driver, no GPUs)."""

    cpu: str = "4"
    memory: str = "16Gi"


class ClusterConfig(_Strict):
    """The KubeRay RayJob: image, pods, shared volume, retries and clean-up."""

    namespace: str = "default"
    image: str = "k2think-gpu:0.1.0"
    ray_version: str = "2.60.0"
    service_account: str | None = None
    head: HeadConfig = Field(default_factory=HeadConfig)
    workers: list[WorkerGroupConfig] = Field(default_factory=lambda: [WorkerGroupConfig()], min_length=1)
    pvc: str | None = "k2think-train"
    mount_path: str = "/mnt/k2think"
    ttl_seconds_after_finished: int = 3600
    backoff_limit: int = 2
    active_deadline_seconds: int | None = None
    env: dict[str, str] = Field(default_factory=dict)


class Turn(_Strict):
    """One demonstration exchange put before the real prompt (few-shot chat turns)."""

    user: str
    assistant: str


class LoraConfig(_Strict):
    """peft LoRA adapters; ``enabled: false`` trains every weight."""

    enabled: bool = True
    rank: int = Field(default=8, ge=1)
    alpha: int = 16
    target_modules: list[str] = Field(default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj"])


class LocalConfig(_Strict):
    """The CPU run on a local Ray cluster with the embedded Gemma 3 270M."""

    dataset: str = "gen:arith"
    limit: int = 64
    seed: int = 0
    steps: int = Field(default=20, ge=1)
    batch: int = Field(default=4, ge=1)
    n: int = Field(default=4, ge=1)
    max_new_tokens: int = Field(default=32, ge=1)
    max_length: int = Field(default=384, ge=16)
    lr: float = 1e-4
    lora: LoraConfig = Field(default_factory=LoraConfig)
    rollout_workers: int = Field(default=2, ge=1)
    threads: int = Field(default=2, ge=1)
    out: str = "runs"
    checkpoint: CheckpointConfig = Field(default_factory=lambda: CheckpointConfig(every=5))
    fewshot: list[Turn] = Field(default_factory=list)


class TrainConfig(_Strict):
    """A whole job file (``training-jobs/<kind>/config.yaml``)."""

    kind: JobKind
    name: str
    model: str = "Qwen/Qwen3-8B"
    data: DataConfig = Field(default_factory=DataConfig)
    checkpoint: CheckpointConfig = Field(default_factory=lambda: CheckpointConfig(uri="/mnt/k2think/checkpoints"))
    reward: RewardConfig = Field(default_factory=RewardConfig)
    cluster: ClusterConfig = Field(default_factory=ClusterConfig)
    local: LocalConfig = Field(default_factory=LocalConfig)
    verl: dict[str, Any] = Field(default_factory=dict)


def load_config(path: str | Path) -> TrainConfig:
    """Read and validate a job file; a bad field is a ValueError naming it."""
    text = Path(path).read_text(encoding="utf-8")
    return parse_config(text)


def parse_config(text: str) -> TrainConfig:
    """Validate job-file YAML text."""
    data = yaml.safe_load(text)
    if not isinstance(data, dict):
        raise ValueError("config: expected a mapping at the top level")
    return TrainConfig.model_validate(data)
