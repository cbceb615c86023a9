"""The Engine lifecycle contract: every backend has load, health, close and ``context_tokens``; the openai engine
learns its context from the server; a pool loads its replicas and reports the smallest context."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from k2core.config import EngineSettings
from k2core.engines.base import Engine
from k2core.engines.cerebras import CerebrasEngine
from k2core.engines.llamacpp import LlamaCppEngine
from k2core.engines.openai_compat import OpenAIEngine
from k2core.engines.pool import Pool
from k2core.engines.vllm import VllmEngine
from k2core.errors import EngineError, UnavailableError
from tests.fakes import ScriptedEngine

MODELS = {"object": "list", "data": [{"id": "other", "object": "model"}, {"id": "m", "max_model_len": 32768}]}


@pytest.fixture
def models_server() -> Iterator[str]:
    """A loopback server answering ``GET /v1/models`` the way vLLM does."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps(MODELS).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


def test_every_backend_conforms(tmp_path: Path) -> None:
    engines = [
        LlamaCppEngine(EngineSettings(), cache_dir=tmp_path),
        OpenAIEngine(EngineSettings(engine="openai", base_url="http://127.0.0.1:1/v1")),
        CerebrasEngine(EngineSettings(engine="cerebras", api_key="sk-test")),
        VllmEngine(EngineSettings(engine="vllm")),
        Pool([ScriptedEngine(context_tokens=2048)], timeout_s=1.0),
    ]
    for engine in engines:
        assert isinstance(engine, Engine), type(engine).__name__
    assert [e.context_tokens for e in engines] == [8192, None, None, 65536, 2048]


async def test_openai_engine_learns_its_context_from_the_server(models_server: str) -> None:
    engine = OpenAIEngine(EngineSettings(engine="openai", base_url=models_server, model="m"))
    assert engine.context_tokens is None
    await engine.load()
    assert engine.context_tokens == 32768
    await engine.close()


async def test_openai_engine_load_fails_as_a_retryable_engine_error(closed_port: int) -> None:
    url = f"http://127.0.0.1:{closed_port}/v1"
    engine = OpenAIEngine(EngineSettings(engine="openai", base_url=url), max_retries=0)
    with pytest.raises(EngineError) as info:
        await engine.load()
    assert info.value.retryable and engine.context_tokens is None
    await engine.close()


async def test_pool_loads_every_replica_and_marks_the_ones_that_fail() -> None:
    good, bad = ScriptedEngine(context_tokens=4096), ScriptedEngine(context_tokens=1024, healthy=False)
    pool = Pool([good, bad], timeout_s=1.0)
    await pool.load()
    assert good.loaded and [r.healthy for r in pool.replicas] == [True, False]
    assert pool.context_tokens == 1024
    good.context_tokens = 512  # learnt on load: the pool follows its replicas
    assert pool.context_tokens == 512
    with pytest.raises(UnavailableError, match="could load"):
        await Pool([ScriptedEngine(healthy=False)], timeout_s=1.0).load()
