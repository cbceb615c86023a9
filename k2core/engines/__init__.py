"""Engines: one protocol, four backends, and a pool of replicas; ``build_engine`` makes one from settings."""

from __future__ import annotations

from pathlib import Path

from k2core.config import EngineSettings
from k2core.engines.base import Engine, seeds_for
from k2core.engines.pool import Pool
from k2core.validation import validate_engine_name

__all__ = ["Engine", "Pool", "build_engine", "seeds_for"]


def _build_one(settings: EngineSettings, cache_dir: Path, endpoint: str | None, pooled: bool) -> Engine:
    if settings.engine == "embedded":
        from k2core.engines.llamacpp import LlamaCppEngine

        return LlamaCppEngine(settings, cache_dir=cache_dir)
    if settings.engine == "openai":
        from k2core.engines.openai_compat import OpenAIEngine

        return OpenAIEngine(settings, base_url=endpoint, max_retries=0 if pooled else 2)
    if settings.engine == "cerebras":
        from k2core.engines.cerebras import CerebrasEngine

        return CerebrasEngine(settings.model_copy(update={"base_url": endpoint}) if endpoint else settings)
    from k2core.engines.vllm import VllmEngine

    return VllmEngine(settings)


def build_engine(settings: EngineSettings, *, cache_dir: Path) -> Engine:
    """The backend named by ``settings.engine``; a Pool when ``replicas > 1`` or several ``endpoints`` are set
    (``replicas`` copies per endpoint; embedded replicas share the process's one model)."""
    validate_engine_name(settings.engine, "engine")
    endpoints: list[str | None] = list(settings.endpoints) or [None]
    copies = max(1, settings.replicas)
    if len(endpoints) == 1 and copies == 1:
        return _build_one(settings, cache_dir, endpoints[0], pooled=False)
    replicas = [_build_one(settings, cache_dir, url, pooled=True) for url in endpoints for _ in range(copies)]
    labels = [f"{url or settings.engine}#{i}" for url in endpoints for i in range(copies)]
    return Pool(replicas, timeout_s=settings.timeout_s, labels=labels)
