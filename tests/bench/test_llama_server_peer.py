"""The peer of the engine benchmark: llama.cpp's ``llama-server``, built from the pinned llama-cpp-python source
(several minutes of compiling on first use, hence ``longrun``), serves the embedded GGUF on loopback with three
parallel slots and answers three concurrent seeded chat requests."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from bench.peer_bench import server_requests
from bench.peers import processes
from k2core.types import SamplingParams


@pytest.mark.longrun
async def test_llama_server_serves_three_concurrent_requests(embedded_model_path: Path, tmp_path: Path) -> None:
    executable = processes.setup_llama_server()
    assert executable.is_file() and executable.name == "llama-server"
    port = processes.free_port()
    log = tmp_path / "server.log"
    with processes.llama_server(executable, embedded_model_path, port, log, slots=3, n_ctx=2048, threads=1):
        async with httpx.AsyncClient(timeout=300) as client:
            base = f"http://{processes.HOST}:{port}/v1"
            params = SamplingParams(temperature=1.0, top_p=0.95, max_tokens=16, seed=7)
            wall, tokens = await server_requests(client, base, params, 3)
            props = (await client.get(f"http://{processes.HOST}:{port}/props")).json()
    assert 3 <= tokens <= 48 and wall > 0
    assert props["total_slots"] == 3
