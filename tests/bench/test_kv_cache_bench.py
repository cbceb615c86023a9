"""The KV cache bench's memory figure on the real model: a q8_0 cache takes about half the resident memory of f16."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bench import kv_cache_bench
from bench.engine_bench import make_engine


@pytest.mark.slow
def test_a_q8_0_context_takes_about_half_the_memory_of_f16(embedded_model_path: Path) -> None:
    engine = make_engine(str(embedded_model_path), embedded_model_path.parent, n_ctx=2048)
    asyncio.run(engine.load())
    try:
        f16, q8_0 = (kv_cache_bench.cache_mib(engine, kind, slots=4) for kind in ("f16", "q8_0"))
    finally:
        asyncio.run(engine.close())
    assert f16 >= 4 * 2048 * 12 / 1024 * 0.9  # 24 layers x 2 KV heads x 64 dims x (K, V) x 2 bytes = 12 KiB/token
    assert 0.45 < q8_0 / f16 < 0.6
