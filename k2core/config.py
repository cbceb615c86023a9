"""One typed Settings tree; env vars ``K2_...`` override it (nested with ``__``, e.g. ``K2_SOLVER__ENGINE``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

EngineName = Literal["embedded", "openai", "vllm", "cerebras"]
ENGINE_NAMES: tuple[str, ...] = ("embedded", "openai", "vllm", "cerebras")
SpecMethod = Literal["ngram", "draft_model", "eagle", "eagle3", "mtp", "suffix"]


def default_cache_dir() -> Path:
    """Where prepared models live: ``$K2_CACHE_DIR``, else ``$XDG_CACHE_HOME/k2think``, else ``~/.cache/k2think``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "k2think"


class SpeculativeSettings(BaseModel):
    """vLLM ``speculative_config``: disabled when ``method`` is None."""

    method: SpecMethod | None = None
    num_speculative_tokens: int = 4
    model: str | None = None
    prompt_lookup_min: int = 2
    prompt_lookup_max: int = 5
    draft_tensor_parallel_size: int | None = None


class VllmSettings(BaseModel):
    """In-process vLLM engine settings (GPU)."""

    tensor_parallel_size: int = 1
    max_model_len: int = 65536
    gpu_memory_utilization: float = 0.9
    dtype: str = "auto"
    enforce_eager: bool = False
    speculative: SpeculativeSettings = Field(default_factory=SpeculativeSettings)


class CerebrasSettings(BaseModel):
    """Cerebras WSE engine settings: key from env or a mounted secret file, rate limits, timeouts."""

    api_key_env: str = "CEREBRAS_API_KEY"
    api_key_file: str | None = None
    base_url: str | None = None
    tokens_per_minute: int = 0
    max_retries: int = 5
    backoff_max_s: float = 30.0


class EmbeddedSettings(BaseModel):
    """llama.cpp embedded engine settings."""

    model_path: str | None = None
    n_ctx: int = 8192
    n_threads: int | None = None
    n_batch: int = 512
    prompt_lookup: bool = False
    prompt_lookup_ngram: int = 3
    prompt_lookup_draft_tokens: int = 15
    parallel_sequences: bool = True
    max_sequences: int = 4
    top_k: int = 40
    prefix_reuse: bool = True  # a prompt starts from the KV of the longest prefix any sequence slot holds
    quantisation: Literal["q4_k_m", "q4_0", "q8_0"] = "q4_k_m"  # q4_0/q8_0: made from the shipped Q4_K_M


class EngineSettings(BaseModel):
    """One role's engine: which backend, which model, and each backend's own knobs."""

    engine: EngineName = "embedded"
    model: str = "qwen2.5-coder-0.5b-instruct"
    base_url: str | None = None
    api_key: str | None = None
    api_key_file: str | None = None
    endpoints: list[str] = Field(default_factory=list)
    replicas: int = 1
    timeout_s: float = 600.0
    embedded: EmbeddedSettings = Field(default_factory=EmbeddedSettings)
    vllm: VllmSettings = Field(default_factory=VllmSettings)
    cerebras: CerebrasSettings = Field(default_factory=CerebrasSettings)
    price_per_million_prompt: float | None = None
    price_per_million_completion: float | None = None

    @property
    def declared_context_tokens(self) -> int | None:
        """The context length these settings fix (embedded ``n_ctx``, vLLM ``max_model_len``); None where a server
        decides. For a caller that cannot ask the engine itself (a gateway in front of solver services)."""
        if self.engine == "embedded":
            return self.embedded.n_ctx
        if self.engine == "vllm":
            return self.vllm.max_model_len
        return None


class PipelineSettings(BaseModel):
    """Best-of-N, plan, selection, adaptive N and deadlines (paper defaults)."""

    n: int = 3
    max_n: int = 16
    temperature: float = 1.0
    top_p: float = 0.95
    max_tokens: int = 1024
    plan: bool = True
    judge: bool = True
    plan_max_tokens: int = 384
    judge_max_tokens: int = 192
    adaptive: bool = False
    adaptive_wave: int = 2
    adaptive_agree: int = 2
    early_majority: bool = True
    token_budget: int | None = None
    soft_deadline_s: float | None = None
    hard_deadline_s: float | None = None
    domain: str = "math"
    seed: int | None = None


class LimitsSettings(BaseModel):
    """Request size and concurrency limits."""

    max_prompt_bytes: int = 1 << 20
    max_demonstrations: int = 16
    max_stop_sequences: int = 16
    max_stop_bytes: int = 256  # per stop string; all of them also count in max_prompt_bytes
    max_json_schema_depth: int = 32
    prompt_overhead_bytes: int = 64 << 10  # what role services allow past max_prompt_bytes: templates and the plan
    http_max_header_bytes: int = 16 << 10
    http_read_timeout_s: float = 10.0  # to receive a request's head, and then its body
    grpc_max_message_bytes: int = 16 << 20
    max_inflight: int = 64
    max_connection_age_s: int = 300
    max_connection_age_grace_s: int = 7200  # in-flight calls finish (the paper's hard timeout is 120 min)


class SandboxSettings(BaseModel):
    """Limits and identity for sandboxed runs of untrusted code (code grading)."""

    interpreter: str = "/usr/bin/python3"
    timeout_s: float = 10.0
    memory_mb: int = 1024
    max_processes: int = 64
    max_file_mb: int = 16
    max_open_files: int = 256
    max_output_bytes: int = 1 << 20
    max_parallel: int = Field(default_factory=lambda: os.cpu_count() or 1)
    tmpfs_mb: int = Field(default=64, ge=1, description="size of each run's private /tmp (its working directory)")
    uid_range_start: int = Field(default=2_000_000_000, ge=1, le=4_000_000_000, description="first per-run uid")
    uid_range_size: int = Field(default=65536, ge=2, le=1 << 24)
    bwrap: str | None = Field(default=None, description="bwrap binary; None: the bundled one or PATH, '': never")


class ServerSettings(BaseModel):
    """Addresses, ports, auth, TLS and telemetry of the services."""

    host: str = "127.0.0.1"
    gateway_grpc_port: int = 50051
    gateway_http_port: int = 8000
    planner_port: int = 50052
    solver_port: int = 50053
    judge_port: int = 50054
    planner_metrics_port: int = 9052
    solver_metrics_port: int = 9053
    judge_metrics_port: int = 9054
    planner_address: str = "127.0.0.1:50052"
    solver_addresses: list[str] = Field(default_factory=lambda: ["127.0.0.1:50053"])
    judge_address: str = "127.0.0.1:50054"
    auth_token: str | None = None
    auth_token_file: str | None = None
    tls_cert_file: str | None = None
    tls_key_file: str | None = None
    tls_ca_file: str | None = None
    otlp_endpoint: str | None = None
    grace_period_s: float = 10.0
    health_port: int | None = None  # plaintext grpc.health.v1 only, for kubelet probes when TLS is on


class Settings(BaseSettings):
    """The whole configuration; every default runs the embedded stack on this machine."""

    model_config = SettingsConfigDict(env_prefix="K2_", env_nested_delimiter="__", extra="ignore")

    cache_dir: Path = Field(default_factory=default_cache_dir)
    data_dir: Path | None = None
    planner: EngineSettings = Field(default_factory=EngineSettings)
    solver: EngineSettings = Field(default_factory=EngineSettings)
    judge: EngineSettings = Field(default_factory=EngineSettings)
    pipeline: PipelineSettings = Field(default_factory=PipelineSettings)
    limits: LimitsSettings = Field(default_factory=LimitsSettings)
    sandbox: SandboxSettings = Field(default_factory=SandboxSettings)
    server: ServerSettings = Field(default_factory=ServerSettings)
