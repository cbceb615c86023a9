"""One typed Settings tree; env vars ``K2_...`` override it (nested with ``__``, e.g. ``K2_SOLVER__ENGINE``).

Every field carries a description: ``services.settings_docs`` renders them into the README's settings table and
the chart's values docs. The services add their own ``server`` section (``services.settings.ServiceSettings``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

EngineName = Literal["embedded", "openai", "vllm", "cerebras"]
ENGINE_NAMES: tuple[str, ...] = ("embedded", "openai", "vllm", "cerebras")
SpecMethod = Literal["ngram", "draft_model", "eagle", "eagle3", "mtp", "suffix"]
# vLLM engine args k2think sets from its own settings; ``engine_kwargs`` may not set them a second time.
VLLM_OWNED_ARGS: tuple[str, ...] = (
    "model",
    "tensor_parallel_size",
    "max_model_len",
    "speculative_config",
    "disable_log_stats",
)


def default_cache_dir() -> Path:
    """Where prepared models live: ``$K2_CACHE_DIR``, else ``$XDG_CACHE_HOME/k2think``, else ``~/.cache/k2think``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "k2think"


class SpeculativeSettings(BaseModel):
    """vLLM ``speculative_config``: disabled when ``method`` is None."""

    method: SpecMethod | None = Field(
        default=None,
        description="speculative decoding method (ngram, draft_model, eagle, eagle3, mtp, suffix); none: off",
    )
    num_speculative_tokens: int = Field(default=4, description="tokens proposed per step")
    model: str | None = Field(default=None, description="draft or EAGLE head model (draft_model, eagle, eagle3)")
    prompt_lookup_min: int = Field(default=2, description="ngram: shortest n-gram matched in the prompt")
    prompt_lookup_max: int = Field(default=5, description="ngram: longest n-gram matched in the prompt")
    draft_tensor_parallel_size: int | None = Field(
        default=None, description="tensor parallel size of the draft model; none: vLLM's default"
    )


class VllmSettings(BaseModel):
    """In-process vLLM engine settings (GPU): what k2think itself reads, plus any ``AsyncEngineArgs`` as
    ``engine_kwargs``."""

    tensor_parallel_size: int = Field(default=1, description="GPUs per engine (the chart's nvidia.com/gpu)")
    max_model_len: int = Field(default=65536, description="context length; requests are checked against it")
    speculative: SpeculativeSettings = Field(
        default_factory=SpeculativeSettings, description="speculative decoding (vLLM speculative_config)"
    )
    engine_kwargs: dict[str, Any] = Field(
        default_factory=dict,
        description="more vLLM AsyncEngineArgs, passed as given (JSON in env, e.g. "
        '{"gpu_memory_utilization": 0.9, "enforce_eager": true}); checked against vLLM when it is installed',
    )

    @field_validator("engine_kwargs")
    @classmethod
    def _not_owned(cls, kwargs: dict[str, Any]) -> dict[str, Any]:
        """Refuse the args k2think sets from its own fields (two sources for one arg would drift apart)."""
        owned = sorted(set(kwargs) & set(VLLM_OWNED_ARGS))
        if owned:
            raise ValueError(
                f"engine_kwargs.{owned[0]}: set by k2think itself (model, tensor_parallel_size, max_model_len, "
                "speculative); use those settings"
            )
        return kwargs


class CerebrasSettings(BaseModel):
    """Cerebras WSE engine settings: key from env or a mounted secret file, rate limits, timeouts."""

    api_key_env: str = Field(default="CEREBRAS_API_KEY", description="env var holding the API key")
    api_key_file: str | None = Field(default=None, description="file holding the API key (a mounted Secret)")
    base_url: str | None = Field(default=None, description="API base URL; none: the SDK's default")
    tokens_per_minute: int = Field(default=0, description="client-side rate limit in tokens per minute; 0: none")
    max_retries: int = Field(default=5, description="retries of a rate-limited or failed call")
    backoff_max_s: float = Field(default=30.0, description="longest wait between retries, in seconds")


class EmbeddedSettings(BaseModel):
    """llama.cpp embedded engine settings."""

    model_path: str | None = Field(default=None, description="GGUF file to load; none: the prepared default model")
    n_ctx: int = Field(default=8192, description="context length in tokens")
    n_threads: int | None = Field(default=None, description="decode threads; none: half the CPUs this process may use")
    n_batch: int = Field(default=512, description="prompt tokens evaluated per batch")
    prompt_lookup: bool = Field(default=False, description="prompt-lookup speculative decoding")
    prompt_lookup_ngram: int = Field(default=3, description="prompt lookup: n-gram length matched")
    prompt_lookup_draft_tokens: int = Field(default=15, description="prompt lookup: tokens drafted per step")
    parallel_sequences: bool = Field(
        default=True, description="decode several sequences in one context (max_sequences slots); off: one slot"
    )
    max_sequences: int = Field(default=4, description="sequence slots of the context (each holds n_ctx tokens)")
    top_k: int = Field(default=40, description="top-k sampling cutoff; 0: off")
    prefix_reuse: bool = Field(
        default=True, description="a prompt starts from the KV of the longest prefix any sequence slot holds"
    )
    decode_rows: Literal["auto", "batched", "split"] = Field(
        default="auto",
        description="a decode step over several sequences: one batched llama_decode, one call per sequence, or auto "
        "(whichever a measurement when the model loads finds faster for that many sequences)",
    )
    kv_cache_type: Literal["f16", "q8_0"] = Field(
        default="q8_0",
        description="KV cache element type; q8_0 takes 53% of f16's memory (with flash attention, which it needs); "
        "GSM8K subset -1.5 points [-6.0, +3.0] vs f16 (bench/results/kv_cache.json)",
    )
    quantisation: Literal["q4_k_m", "q4_0", "q8_0"] = Field(
        default="q4_k_m", description="default model's quantisation; q4_0 and q8_0 are made from the shipped Q4_K_M"
    )


class EngineSettings(BaseModel):
    """One role's engine: which backend, which model, and each backend's own knobs."""

    engine: EngineName = Field(default="embedded", description="backend: embedded, openai, vllm or cerebras")
    model: str = Field(
        default="qwen2.5-coder-0.5b-instruct", description="model: HF id (vllm) or served name (openai, cerebras)"
    )
    base_url: str | None = Field(default=None, description="openai: base URL of the OpenAI-compatible server")
    api_key: str | None = Field(default=None, description="openai: API key")
    api_key_file: str | None = Field(default=None, description="openai: file holding the API key")
    endpoints: list[str] = Field(
        default_factory=list, description="openai: several base URLs served as one replica pool"
    )
    replicas: int = Field(default=1, description="engine replicas in one pool (least-loaded routing)")
    timeout_s: float = Field(default=600.0, description="seconds one engine call may take")
    embedded: EmbeddedSettings = Field(default_factory=EmbeddedSettings, description="embedded engine settings")
    vllm: VllmSettings = Field(default_factory=VllmSettings, description="vllm engine settings")
    cerebras: CerebrasSettings = Field(default_factory=CerebrasSettings, description="cerebras engine settings")
    price_per_million_prompt: float | None = Field(
        default=None, description="USD per million prompt tokens (a request's cost_usd); none: not priced"
    )
    price_per_million_completion: float | None = Field(
        default=None, description="USD per million completion tokens; none: not priced"
    )

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

    n: int = Field(default=3, description="solver candidates per request (best-of-N)")
    max_n: int = Field(default=16, description="most candidates one request may ask for")
    temperature: float = Field(default=1.0, description="solver sampling temperature")
    top_p: float = Field(default=0.95, description="solver nucleus sampling")
    max_tokens: int = Field(default=1024, description="completion tokens per candidate")
    plan: bool = Field(default=True, description="plan before solving (planner role)")
    judge: bool = Field(default=True, description="pick among disagreeing candidates by pairwise judging")
    plan_max_tokens: int = Field(default=384, description="completion tokens of the plan")
    judge_max_tokens: int = Field(default=192, description="completion tokens of one judge verdict")
    judge_calibrate: bool = Field(
        default=False,
        description="decide each judged pair by the judge's log-odds for A over B summed over both orders (cancels "
        "position bias; needs an engine that reports log-probabilities) plus the log ratio of the answers' group sizes",
    )
    adaptive: bool = Field(default=False, description="sample candidates in waves and stop once answers agree")
    adaptive_wave: int = Field(default=2, description="adaptive N: candidates per wave")
    adaptive_agree: int = Field(default=2, description="adaptive N: agreeing answers that stop sampling")
    early_majority: bool = Field(
        default=True, description="cancel the remaining candidates once finished ones hold a strict majority of N"
    )
    token_budget: int | None = Field(
        default=None, description="completion tokens all candidates of a request may use; none: no budget"
    )
    soft_deadline_s: float | None = Field(
        default=None, description="seconds after which the best finished candidate is selected; none: no limit"
    )
    hard_deadline_s: float | None = Field(
        default=None, description="seconds after which a request fails; none: no limit"
    )
    domain: str = Field(default="math", description="grading domain of a request that names none")
    seed: int | None = Field(default=None, description="base sampling seed (candidate i gets seed + i); none: random")


class LimitsSettings(BaseModel):
    """Request size and concurrency limits."""

    max_prompt_bytes: int = Field(
        default=1 << 20, description="largest prompt (problem, system turn, demonstrations, stops) in bytes"
    )
    max_demonstrations: int = Field(default=16, description="most worked examples one request may carry")
    max_stop_sequences: int = Field(default=16, description="most stop strings one request may carry")
    max_stop_bytes: int = Field(
        default=256, description="longest stop string in bytes (all of them count in max_prompt_bytes too)"
    )
    max_json_schema_depth: int = Field(default=32, description="deepest nesting of a request's JSON schema")
    prompt_overhead_bytes: int = Field(
        default=64 << 10, description="what role services allow past max_prompt_bytes: templates and the plan"
    )
    http_max_header_bytes: int = Field(default=16 << 10, description="largest HTTP request head in bytes")
    http_read_timeout_s: float = Field(
        default=10.0, description="seconds to receive an HTTP request's head, and then its body"
    )
    grpc_max_message_bytes: int = Field(default=16 << 20, description="gRPC message size limit, both ways")
    max_inflight: int = Field(
        default=64, description="requests served at once per process before RESOURCE_EXHAUSTED / HTTP 429"
    )
    max_connection_age_s: int = Field(
        default=300, description="seconds before a server sends GOAWAY so clients re-resolve"
    )
    max_connection_age_grace_s: int = Field(
        default=7200, description="seconds calls in flight on an aged connection may still run"
    )


class SandboxSettings(BaseModel):
    """Limits and identity for sandboxed runs of untrusted code (code grading)."""

    interpreter: str = Field(default="/usr/bin/python3", description="Python interpreter that runs the programs")
    timeout_s: float = Field(default=10.0, description="wall time of one run in seconds")
    memory_mb: int = Field(default=1024, description="address-space limit of one run in MiB")
    max_processes: int = Field(default=64, description="processes one run may have")
    max_file_mb: int = Field(default=16, description="largest file one run may write in MiB")
    max_open_files: int = Field(default=256, description="open files one run may have")
    max_output_bytes: int = Field(default=1 << 20, description="stdout and stderr kept per run, in bytes")
    max_parallel: int = Field(
        default_factory=lambda: os.cpu_count() or 1, description="runs at once; default: the CPU count"
    )
    tmpfs_mb: int = Field(default=64, ge=1, description="size of each run's private /tmp (its working directory)")
    uid_range_start: int = Field(default=2_000_000_000, ge=1, le=4_000_000_000, description="first per-run uid")
    uid_range_size: int = Field(default=65536, ge=2, le=1 << 24, description="per-run uids available")
    bwrap: str | None = Field(default=None, description="bwrap binary; none: the bundled one or PATH, '': never")


class Settings(BaseSettings):
    """The whole configuration of the library; every default runs the embedded stack on this machine."""

    model_config = SettingsConfigDict(env_prefix="K2_", env_nested_delimiter="__", extra="ignore")

    cache_dir: Path = Field(
        default_factory=default_cache_dir, description="prepared models; default $XDG_CACHE_HOME/k2think"
    )
    data_dir: Path | None = Field(default=None, description="dataset files; none: the data packaged with k2core")
    planner: EngineSettings = Field(default_factory=EngineSettings, description="the planner's engine")
    solver: EngineSettings = Field(default_factory=EngineSettings, description="the solver's engine")
    judge: EngineSettings = Field(default_factory=EngineSettings, description="the judge's engine")
    pipeline: PipelineSettings = Field(default_factory=PipelineSettings, description="best-of-N pipeline")
    limits: LimitsSettings = Field(default_factory=LimitsSettings, description="request size and concurrency limits")
    sandbox: SandboxSettings = Field(default_factory=SandboxSettings, description="code sandbox limits")
