"""The training job file: one typed tree for data, checkpoints, the cluster, the local CPU run and verl overrides."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

from k2core.data.decontam import check_source_name
from k2core.training.precision import Precision

JobKind = Literal["sft", "rlvr"]
JOB_KINDS: tuple[str, ...] = ("sft", "rlvr")
HF_DIR = "hf"  # a run's merged Hugging Face folder, under its checkpoint folder (cluster) or run folder (local)
# Training sources only: every evaluation set (k2core.data.decontam.EVAL_DATASETS) is refused. No packaged
# training set exists for code or science, so those two domains come from the cluster's own data, not these.
TRAINING_SOURCES: tuple[str, ...] = ("gsm8k_train", "gen:countdown", "gen:logic", "gen:simulation", "gen:tabular")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DataConfig(_Strict):
    """Which k2core datasets feed the job and where their parquet files go (a PVC path on the cluster)."""

    sources: list[str] = Field(default_factory=lambda: list(TRAINING_SOURCES))
    limit: int | None = None
    seed: int = 0
    test_fraction: float = 0.05
    dir: str = "/mnt/k2think/data"
    traces: str | None = None
    # Problems sharing a 13-gram with an evaluation prompt: refuse the source (false) or leave them out (true).
    drop_overlaps: bool = False

    @field_validator("sources")
    @classmethod
    def _no_eval_sets(cls, sources: list[str]) -> list[str]:
        for source in sources:
            check_source_name(source)
        return sources


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


class ImageConfig(_Strict):
    """The trainer image ``<registry>/<repository>:<tag>@<digest>`` (the chart's ``image.*`` convention): the
    ``k2think-train`` image, ``[gpu,train]`` extras, Ray at ``cluster.ray_version``."""

    registry: str = "ghcr.io/k2think"
    repository: str = "k2think-train"
    tag: str = "0.1.0"
    digest: str | None = Field(default=None, pattern=r"^sha256:[0-9a-f]{64}$")

    @property
    def ref(self) -> str:
        """The full reference; a digest pins it while the tag stays for readability."""
        name = f"{self.registry.rstrip('/')}/{self.repository}" if self.registry else self.repository
        return name + (f":{self.tag}" if self.tag else "") + (f"@{self.digest}" if self.digest else "")


class VolumeConfig(_Strict):
    """The shared ReadWriteMany volume every step reads and writes (data, checkpoints, merged models)."""

    claim: str = "k2think-train"
    size: str = "1Ti"
    storage_class: str | None = None
    create: bool = True


class ClusterConfig(_Strict):
    """The KubeRay RayJob: image, pods, shared volume, queue, deadline, retries and clean-up."""

    namespace: str = "default"
    image: ImageConfig = Field(default_factory=ImageConfig)
    ray_version: str = "2.60.0"
    service_account: str | None = None
    head: HeadConfig = Field(default_factory=HeadConfig)
    workers: list[WorkerGroupConfig] = Field(default_factory=lambda: [WorkerGroupConfig()], min_length=1)
    volume: VolumeConfig | None = Field(default_factory=VolumeConfig)
    mount_path: str = "/mnt/k2think"
    # The images run as this non-root uid/gid; fsGroup makes the volume writable for it.
    run_as_user: int = 10001
    fs_group: int = 10001
    # Kueue LocalQueue that admits the job (label kueue.x-k8s.io/queue-name); null = not queued by Kueue.
    queue: str | None = "k2think-train"
    ttl_seconds_after_finished: int = 3600
    backoff_limit: int = 2
    active_deadline_seconds: int | None = Field(default=None, ge=1)
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
    """The CPU run on a local Ray cluster: the embedded Qwen2.5-Coder-0.5B-Instruct, or an HF folder a previous
    local run exported (``<sft out>/hf``), as the starting policy."""

    model: str = "embedded"
    dataset: str | None = "gen:arith"
    # SFT: verified conversations written by ``k2think traces`` (``traces.jsonl``), trained on with the dataset's.
    traces: str | None = None
    limit: int = 64
    seed: int = 0
    steps: int = Field(default=20, ge=1)
    batch: int = Field(default=4, ge=1)
    n: int = Field(default=4, ge=1)
    micro_batch: int | None = Field(
        default=None,
        ge=1,
        description="RLVR: sampled responses per forward/backward of the GRPO update, the gradient accumulated over "
        "the batch's batch×n responses (advantages and loss normalisers from the whole batch); None: all at once",
    )
    max_new_tokens: int = Field(default=32, ge=1)
    max_length: int = Field(default=384, ge=16)
    lr: float = 1e-4
    lora: LoraConfig = Field(default_factory=LoraConfig)
    rollout_workers: int = Field(default=2, ge=1)
    threads: int = Field(default=2, ge=1)
    precision: Precision = Field(
        default="auto",
        description="bf16: frozen weights in bfloat16, matmuls under CPU autocast, trained weights fp32; "
        "auto: bf16 where the CPU has native bfloat16 (AVX512-BF16, AMX), else fp32",
    )
    out: str = "runs"
    checkpoint: CheckpointConfig = Field(default_factory=lambda: CheckpointConfig(every=5))
    fewshot: list[Turn] = Field(default_factory=list)

    @field_validator("dataset")
    @classmethod
    def _no_eval_set(cls, dataset: str | None) -> str | None:
        if dataset is not None:
            check_source_name(dataset)
        return dataset


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
