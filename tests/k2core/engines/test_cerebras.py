"""The ``cerebras`` engine: for real against the local llama.cpp server (same chat API), 429 backoff against a
scripted local HTTP server, the tokens-per-minute bucket, retry header parsing, key handling."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from email.utils import formatdate
from pathlib import Path
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from k2core.config import CerebrasSettings, EngineSettings
from k2core.engines.cerebras import CerebrasEngine, TokenBucket, retry_delay
from k2core.errors import EngineError
from k2core.types import Message, SamplingParams
from tests.conftest import LlamaServer

COUNT = [Message(role="user", content="Count from 1 to 10.")]
OK_BODY = {
    "id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": "m",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "hello"}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
}


def cerebras(url: str, **cerebras_knobs: object) -> CerebrasEngine:
    settings = EngineSettings(engine="cerebras", model="m", api_key="sk-test", base_url=url)
    settings.cerebras = CerebrasSettings(**cerebras_knobs)
    return CerebrasEngine(settings)


class Scripted429:
    """A local HTTP server answering chat calls from a list of (status, headers), then 200 with OK_BODY."""

    def __init__(self, script: "Script") -> None:
        self.script = list(script)
        self.arrivals: list[float] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length", 0)))
                outer.arrivals.append(time.monotonic())
                status, headers = outer.script.pop(0) if outer.script else (200, {})
                body = json.dumps(OK_BODY if status == 200 else {"message": "rate limited"}).encode()
                self.send_response(status)
                for key, value in {"content-type": "application/json", **headers}.items():
                    self.send_header(key, value)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()


Script = list[tuple[int, dict[str, str]]]


@pytest.fixture
def rate_limited() -> Iterator[Callable[[Script], Scripted429]]:
    """Start scripted servers on free ports; shut them down after the test."""
    servers: list[Scripted429] = []

    def start(script: Script) -> Scripted429:
        servers.append(Scripted429(script))
        return servers[-1]

    yield start
    for server in servers:
        server.server.shutdown()
        server.server.server_close()


@pytest.mark.slow
async def test_real_calls_through_the_sdk_against_llama_cpp(llama_server: LlamaServer) -> None:
    engine = cerebras(llama_server.root, tokens_per_minute=100_000)
    completions = await engine.generate(COUNT, SamplingParams(temperature=1.0, max_tokens=8, seed=3), n=2)
    assert len(completions) == 2 and all(c.completion_tokens > 0 and c.prompt_tokens > 0 for c in completions)
    deltas = [d async for d in engine.stream(COUNT, SamplingParams(temperature=0, max_tokens=8))]
    assert deltas[-1].finish_reason and "".join(d.text for d in deltas)
    assert await engine.health()
    await engine.close()


async def test_429_waits_for_retry_after_then_succeeds(rate_limited: Callable[[Script], Scripted429]) -> None:
    server = rate_limited([(429, {"retry-after": "1"})])
    engine = cerebras(server.url)
    [completion] = await engine.generate(COUNT, SamplingParams(max_tokens=4))
    assert completion.text == "hello" and completion.completion_tokens == 1
    assert len(server.arrivals) == 2 and server.arrivals[1] - server.arrivals[0] >= 0.9
    await engine.close()


async def test_429_honours_ratelimit_reset_headers(rate_limited: Callable[[Script], Scripted429]) -> None:
    server = rate_limited([(429, {"x-ratelimit-reset-tokens-minute": "0.4", "x-ratelimit-reset-requests-day": "80000"})])
    engine = cerebras(server.url)
    await engine.generate(COUNT, SamplingParams(max_tokens=4))
    assert 0.3 <= server.arrivals[1] - server.arrivals[0] < 5
    await engine.close()


async def test_429_beyond_max_retries_is_a_retryable_error(rate_limited: Callable[[Script], Scripted429]) -> None:
    server = rate_limited([(429, {"retry-after": "0"})] * 3)
    engine = cerebras(server.url, max_retries=2)
    with pytest.raises(EngineError, match="429") as info:
        await engine.generate(COUNT, SamplingParams(max_tokens=4))
    assert info.value.retryable and len(server.arrivals) == 3
    await engine.close()


def test_missing_key_is_a_clear_non_retryable_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CEREBRAS_API_KEY", raising=False)
    with pytest.raises(EngineError, match="CEREBRAS_API_KEY") as info:
        CerebrasEngine(EngineSettings(engine="cerebras"))
    assert not info.value.retryable


def test_key_from_env_or_mounted_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CEREBRAS_API_KEY", "csk-env")
    assert CerebrasEngine(EngineSettings(engine="cerebras"))._client.api_key == "csk-env"
    monkeypatch.delenv("CEREBRAS_API_KEY")
    (tmp_path / "key").write_text("csk-file\n")
    settings = EngineSettings(engine="cerebras", cerebras=CerebrasSettings(api_key_file=str(tmp_path / "key")))
    assert CerebrasEngine(settings)._client.api_key == "csk-file"


async def test_token_bucket_limits_tokens_per_minute() -> None:
    bucket = TokenBucket(tokens_per_minute=600)  # 10 tokens per second
    start = time.monotonic()
    assert await bucket.acquire(10_000) == 600  # clamped to the capacity, available at once
    await bucket.acquire(5)
    assert 0.4 <= time.monotonic() - start < 2
    bucket.settle(reserved=600, used=100)  # the estimate was 500 too high: given back
    start = time.monotonic()
    await bucket.acquire(400)
    assert time.monotonic() - start < 0.2


def test_retry_delay_reads_the_headers() -> None:
    assert retry_delay(httpx.Headers({"retry-after": "3"}), 0, cap=30) == 3
    assert retry_delay(httpx.Headers({"retry-after-ms": "250"}), 0, cap=30) == 0.25
    assert 8 <= retry_delay(httpx.Headers({"retry-after": formatdate(time.time() + 10, usegmt=True)}), 0, cap=30) <= 10
    headers = httpx.Headers({"x-ratelimit-reset-tokens-minute": "12.5", "x-ratelimit-reset-requests-day": "4000"})
    assert retry_delay(headers, 0, cap=30) == 12.5
    assert retry_delay(httpx.Headers({"retry-after": "100"}), 0, cap=30) == 30
    assert 2 <= retry_delay(httpx.Headers(), 2, cap=30) <= 4  # no hint: exponential backoff with jitter
