"""``build_engine``: the backend named in settings, a Pool for replicas or several endpoints, name checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from k2core.config import EngineSettings
from k2core.engines import build_engine
from k2core.engines.cerebras import CerebrasEngine
from k2core.engines.llamacpp import LlamaCppEngine
from k2core.engines.openai_compat import OpenAIEngine
from k2core.engines.pool import Pool
from k2core.engines.vllm import VllmEngine
from k2core.errors import EngineError, ValidationError


def test_each_name_builds_its_backend(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CEREBRAS_API_KEY", "csk-test")
    assert isinstance(build_engine(EngineSettings(), cache_dir=tmp_path), LlamaCppEngine)
    openai = build_engine(EngineSettings(engine="openai", base_url="http://127.0.0.1:1/v1"), cache_dir=tmp_path)
    assert isinstance(openai, OpenAIEngine) and openai.name == "openai"
    assert isinstance(build_engine(EngineSettings(engine="cerebras"), cache_dir=tmp_path), CerebrasEngine)
    assert isinstance(build_engine(EngineSettings(engine="vllm"), cache_dir=tmp_path), VllmEngine)


def test_embedded_engine_does_not_load_at_construction(tmp_path: Path) -> None:
    engine = build_engine(EngineSettings(), cache_dir=tmp_path)
    assert engine.context_tokens == 8192 and engine.active_sequences == 0
    assert not (tmp_path / "models").exists()


def test_several_endpoints_make_a_pool_of_one_replica_each(tmp_path: Path) -> None:
    urls = ["http://127.0.0.1:1/v1", "http://127.0.0.1:2/v1"]
    engine = build_engine(EngineSettings(engine="openai", endpoints=urls, replicas=2), cache_dir=tmp_path)
    assert isinstance(engine, Pool) and engine.name == "openai"
    assert [str(r.engine._client.base_url) for r in engine.replicas] == [urls[0] + "/"] * 2 + [urls[1] + "/"] * 2
    assert all(r.engine._client.max_retries == 0 for r in engine.replicas)  # the pool retries, not the client


def test_replicas_of_the_embedded_engine_make_a_pool(tmp_path: Path) -> None:
    engine = build_engine(EngineSettings(replicas=2), cache_dir=tmp_path)
    assert isinstance(engine, Pool) and len(engine.replicas) == 2 and engine.context_tokens == 8192


def test_cerebras_endpoints_become_base_urls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CEREBRAS_API_KEY", "csk-test")
    engine = build_engine(EngineSettings(engine="cerebras", endpoints=["http://a:1", "http://b:2"]), cache_dir=tmp_path)
    assert [str(r.engine._client.base_url) for r in engine.replicas] == ["http://a:1", "http://b:2"]


def test_unknown_engine_and_missing_cerebras_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValidationError) as info:
        build_engine(EngineSettings.model_construct(engine="nope"), cache_dir=tmp_path)
    assert info.value.field == "engine"
    monkeypatch.delenv("CEREBRAS_API_KEY", raising=False)
    with pytest.raises(EngineError, match="CEREBRAS_API_KEY"):
        build_engine(EngineSettings(engine="cerebras"), cache_dir=tmp_path)
