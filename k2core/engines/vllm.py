"""In-process vLLM engine (``[gpu]`` extra): ``AsyncLLM`` with speculative decoding from settings.

The config builders are plain functions over our settings so they are tested without vLLM; the engine imports
vLLM's ``AsyncEngineArgs`` at construction (to check ``engine_kwargs``) and the rest when it loads. Child ``i``
of an ``n``-sample request gets seed ``seed + i`` in vLLM, which is the convention of ``seeds_for``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
import uuid
from collections.abc import AsyncIterator, Collection, Mapping, Sequence
from functools import cache
from typing import Any

from k2core.config import EngineSettings
from k2core.errors import EngineError, ValidationError
from k2core.types import Completion, Delta, Message, SamplingParams, SpecDecodeStats, TokenLogprob

__all__ = [
    "VllmEngine",
    "build_engine_args",
    "build_speculative_config",
    "check_engine_kwargs",
    "engine_arg_names",
    "sampling_kwargs",
]

_DRAFT_METHODS = ("draft_model", "eagle", "eagle3")
_SPEC_COUNTERS = ("vllm:spec_decode_num_draft_tokens", "vllm:spec_decode_num_accepted_tokens")


def build_speculative_config(settings: EngineSettings) -> dict[str, Any] | None:
    """vLLM ``speculative_config`` from ``vllm.speculative``; None when speculation is off."""
    spec = settings.vllm.speculative
    if spec.method is None:
        return None
    config: dict[str, Any] = {"method": spec.method, "num_speculative_tokens": spec.num_speculative_tokens}
    if spec.method == "ngram":
        config["prompt_lookup_min"] = spec.prompt_lookup_min
        config["prompt_lookup_max"] = spec.prompt_lookup_max
    if spec.method in _DRAFT_METHODS and not spec.model:
        raise ValidationError("vllm.speculative.model", f"method {spec.method!r} needs a draft model")
    if spec.model and spec.method not in ("ngram", "suffix"):
        config["model"] = spec.model
    if spec.draft_tensor_parallel_size is not None and spec.method in (*_DRAFT_METHODS, "mtp"):
        config["draft_tensor_parallel_size"] = spec.draft_tensor_parallel_size
    return config


@cache
def engine_arg_names() -> frozenset[str] | None:
    """The fields of the installed vLLM's ``AsyncEngineArgs``; None when vLLM is not installed."""
    try:
        from vllm.engine.arg_utils import AsyncEngineArgs
    except ImportError:
        return None
    return frozenset(field.name for field in dataclasses.fields(AsyncEngineArgs))


def check_engine_kwargs(kwargs: dict[str, Any], known: Collection[str] | None) -> None:
    """Refuse ``engine_kwargs`` keys that are not ``known`` vLLM engine args (no check when ``known`` is None)."""
    if known is None:
        return
    unknown = sorted(set(kwargs) - set(known))
    if unknown:
        raise ValidationError(
            f"vllm.engine_kwargs.{unknown[0]}", "not a field of vLLM's AsyncEngineArgs in the installed vLLM"
        )


def build_engine_args(settings: EngineSettings, known: Collection[str] | None = None) -> dict[str, Any]:
    """Keyword arguments of ``vllm.AsyncEngineArgs``: ``vllm.engine_kwargs`` (checked against ``known`` field
    names), then what k2think sets itself (model, parallelism, context, speculation; stats stay on: spec-decode
    counters come from them)."""
    cfg = settings.vllm
    check_engine_kwargs(cfg.engine_kwargs, known)
    args: dict[str, Any] = {
        **cfg.engine_kwargs,
        "model": settings.model,
        "tensor_parallel_size": cfg.tensor_parallel_size,
        "max_model_len": cfg.max_model_len,
        "disable_log_stats": False,
    }
    speculative = build_speculative_config(settings)
    if speculative is not None:
        args["speculative_config"] = speculative
    return args


def sampling_kwargs(params: SamplingParams, n: int) -> dict[str, Any]:
    """Keyword arguments of ``vllm.SamplingParams``; a JSON schema goes under ``structured_outputs`` as
    ``{"json": schema}`` (made into vLLM's params object by ``to_vllm_sampling``)."""
    kwargs: dict[str, Any] = {
        "n": n,
        "temperature": params.temperature,
        "top_p": params.top_p,
        "max_tokens": params.max_tokens,
        "seed": params.seed,
        "stop": list(params.stop) or None,
    }
    if params.top_logprobs:
        kwargs["logprobs"] = params.top_logprobs
    if params.json_schema is not None:
        kwargs["structured_outputs"] = {"json": params.json_schema}
    return kwargs


def output_logprobs(token_ids: Sequence[int], steps: Sequence[Mapping[int, Any]] | None) -> list[TokenLogprob] | None:
    """vLLM's per-token ``{token_id: Logprob}`` maps (the top ones plus the sampled token) as TokenLogprobs."""
    if not steps:
        return None
    out = []
    for token, step in zip(token_ids, steps, strict=False):
        ranked = sorted(step.items(), key=lambda item: -item[1].logprob)
        top: dict[str, float] = {}
        for tid, alt in ranked:
            top.setdefault(str(alt.decoded_token if alt.decoded_token is not None else tid), float(alt.logprob))
        chosen = step.get(token)
        text = str(chosen.decoded_token) if chosen is not None and chosen.decoded_token is not None else str(token)
        out.append(TokenLogprob(token=text, logprob=float(chosen.logprob) if chosen else float("-inf"), top=top))
    return out


def to_vllm_sampling(kwargs: dict[str, Any], *, stream: bool) -> Any:
    """A ``vllm.SamplingParams``: structured outputs as ``StructuredOutputsParams`` (vLLM >= 0.11) or
    ``GuidedDecodingParams`` (older); streamed requests get deltas, others only the final output."""
    from vllm import SamplingParams as VllmSamplingParams
    from vllm.sampling_params import RequestOutputKind

    kwargs = dict(kwargs)
    structured = kwargs.pop("structured_outputs", None)
    if structured is not None:
        try:
            from vllm.sampling_params import StructuredOutputsParams

            kwargs["structured_outputs"] = StructuredOutputsParams(**structured)
        except ImportError:
            from vllm.sampling_params import GuidedDecodingParams

            kwargs["guided_decoding"] = GuidedDecodingParams(**structured)
    kind = RequestOutputKind.DELTA if stream else RequestOutputKind.FINAL_ONLY
    return VllmSamplingParams(**kwargs, output_kind=kind)


def spec_counters() -> tuple[float, float]:
    """vLLM's cumulative (draft, accepted) speculative token counters from the Prometheus registry."""
    from prometheus_client import REGISTRY

    totals = dict.fromkeys(_SPEC_COUNTERS, 0.0)
    for metric in REGISTRY.collect():
        if metric.name in totals:
            totals[metric.name] += sum(s.value for s in metric.samples if s.name.endswith("_total"))
    return totals[_SPEC_COUNTERS[0]], totals[_SPEC_COUNTERS[1]]


class VllmEngine:
    """The ``vllm`` engine: one ``AsyncLLM`` per engine, created on ``load()`` or the first request."""

    name = "vllm"
    supports_json_schema = True

    def __init__(self, settings: EngineSettings) -> None:
        self._settings = settings
        self._method = settings.vllm.speculative.method
        self._engine: Any = None
        self._tokenizer: Any = None
        self._lock = asyncio.Lock()
        self.context_tokens: int | None = settings.vllm.max_model_len
        # A bad speculative config or an engine_kwargs key the installed vLLM lacks fails here, not on a GPU.
        build_engine_args(settings, engine_arg_names())

    async def load(self) -> None:
        """Start the vLLM engine (imports vllm; needs a GPU)."""
        async with self._lock:
            if self._engine is not None:
                return
            try:
                from vllm import AsyncEngineArgs
                from vllm.v1.engine.async_llm import AsyncLLM
            except ImportError as exc:
                raise EngineError(
                    "the vllm engine needs the [gpu] extra (pip install 'k2think[gpu]')", retryable=False
                ) from exc
            engine = AsyncLLM.from_engine_args(AsyncEngineArgs(**build_engine_args(self._settings, engine_arg_names())))
            self._tokenizer = await engine.get_tokenizer()
            self._engine = engine

    async def generate(self, messages: list[Message], params: SamplingParams, n: int = 1) -> list[Completion]:
        """``n`` completions of one request (vLLM batches them and shares the prompt's KV blocks)."""
        await self.load()
        start = time.perf_counter()
        before = spec_counters() if self._method else None
        final = None
        async for output in self._generate(messages, params, n, stream=False):
            final = output
        if final is None:
            raise EngineError("vllm returned no output", retryable=True)
        stats = self._spec_stats(before)
        seconds = time.perf_counter() - start
        prompt_tokens = len(final.prompt_token_ids or [])
        return [
            Completion(
                text=out.text,
                finish_reason=out.finish_reason or "stop",
                prompt_tokens=prompt_tokens,
                completion_tokens=len(out.token_ids),
                seconds=seconds,
                spec_decode=stats,
                logprobs=output_logprobs(out.token_ids, out.logprobs) if params.top_logprobs else None,
            )
            for out in sorted(final.outputs, key=lambda o: o.index)
        ]

    async def stream(self, messages: list[Message], params: SamplingParams) -> AsyncIterator[Delta]:
        """Text deltas; the last one carries finish_reason and token counts."""
        await self.load()
        tokens = 0
        async with contextlib.aclosing(self._generate(messages, params, 1, stream=True)) as outputs:  # type: ignore[type-var]
            async for output in outputs:
                out = output.outputs[0]
                tokens += len(out.token_ids)
                if out.text:
                    yield Delta(text=out.text)
                if output.finished:
                    yield Delta(
                        finish_reason=out.finish_reason or "stop",
                        prompt_tokens=len(output.prompt_token_ids or []),
                        completion_tokens=tokens,
                    )

    async def _generate(
        self, messages: list[Message], params: SamplingParams, n: int, stream: bool
    ) -> AsyncIterator[Any]:
        """vLLM's output stream; closing or cancelling it aborts the request inside vLLM."""
        token_ids = self._tokenizer.apply_chat_template(
            [m.model_dump() for m in messages], tokenize=True, add_generation_prompt=True
        )
        sampling = to_vllm_sampling(sampling_kwargs(params, n), stream=stream)
        try:
            async for output in self._engine.generate(
                {"prompt_token_ids": list(token_ids)}, sampling, uuid.uuid4().hex
            ):
                yield output
        except Exception as exc:
            raise EngineError(f"vllm generation failed: {exc}", retryable=True) from exc

    def _spec_stats(self, before: tuple[float, float] | None) -> SpecDecodeStats | None:
        """Draft/accepted tokens vLLM counted while this request ran (engine-wide, so shared under load)."""
        if before is None:
            return None
        draft, accepted = spec_counters()
        return SpecDecodeStats(
            method=str(self._method), draft_tokens=int(draft - before[0]), accepted_tokens=int(accepted - before[1])
        )

    async def health(self) -> bool:
        """Loaded and its engine loop alive."""
        try:
            await self.load()
            await self._engine.check_health()
        except Exception:
            return False
        return True

    async def close(self) -> None:
        """Shut the vLLM engine down."""
        async with self._lock:
            if self._engine is not None:
                self._engine.shutdown()
                self._engine = None
