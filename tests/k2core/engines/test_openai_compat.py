"""The ``openai`` engine against a real ``python -m llama_cpp.server`` with the embedded model."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from k2core.config import EngineSettings
from k2core.engines.openai_compat import OpenAIEngine
from k2core.errors import EngineError
from k2core.types import Message, SamplingParams
from tests.conftest import LlamaServer

COUNT = [Message(role="user", content="Count from 1 to 10.")]
VERDICT = {"type": "object", "properties": {"winner": {"enum": ["A", "B", "tie"]}}, "required": ["winner"]}


def engine_at(url: str, **knobs: object) -> OpenAIEngine:
    return OpenAIEngine(EngineSettings(engine="openai", base_url=url, **knobs))


@pytest.mark.slow
async def test_n_samples_are_concurrent_requests_with_distinct_seeds(llama_server: LlamaServer) -> None:
    engine = engine_at(llama_server.v1)
    params = SamplingParams(temperature=1.0, max_tokens=12, seed=11)
    first = await engine.generate(COUNT, params, n=3)
    again = await engine.generate(COUNT, params, n=3)
    assert len(first) == 3 and len({c.text for c in first}) > 1
    assert [c.text for c in first] == [c.text for c in again]
    assert all(c.prompt_tokens > 0 and 0 < c.completion_tokens <= 12 and c.seconds > 0 for c in first)
    assert await engine.health()
    await engine.close()


@pytest.mark.slow
async def test_stream_ends_with_finish_reason_and_tokens(llama_server: LlamaServer) -> None:
    engine = engine_at(llama_server.v1)
    params = SamplingParams(temperature=0, max_tokens=10)
    [completion] = await engine.generate(COUNT, params)
    deltas = [d async for d in engine.stream(COUNT, params)]
    assert "".join(d.text for d in deltas) == completion.text
    assert deltas[-1].finish_reason == completion.finish_reason
    assert deltas[-1].completion_tokens == completion.completion_tokens
    await engine.close()


@pytest.mark.slow
async def test_json_schema_falls_back_to_the_servers_response_format(llama_server: LlamaServer) -> None:
    engine = engine_at(llama_server.v1)
    messages = [Message(role="user", content="Is 2+2=4 answer A or B? Reply in JSON.")]
    [completion] = await engine.generate(messages, SamplingParams(temperature=0, max_tokens=24, json_schema=VERDICT))
    assert json.loads(completion.text)["winner"] in {"A", "B", "tie"}
    assert engine._schema_style == "json_object"  # llama-cpp-python's server rejects the json_schema shape
    await engine.close()


async def test_a_dead_endpoint_is_a_retryable_engine_error(closed_port: int) -> None:
    engine = OpenAIEngine(EngineSettings(engine="openai", base_url=f"http://127.0.0.1:{closed_port}/v1"), max_retries=0)
    with pytest.raises(EngineError) as info:
        await engine.generate(COUNT, SamplingParams(max_tokens=4))
    assert info.value.retryable
    assert not await engine.health()
    await engine.close()


async def test_the_per_call_timeout_applies() -> None:
    with socket.socket() as silent:  # accepts connections (backlog) and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/v1"
        engine = OpenAIEngine(EngineSettings(engine="openai", base_url=url, timeout_s=0.3), max_retries=0)
        with pytest.raises(EngineError, match="timed out") as info:
            await engine.generate(COUNT, SamplingParams(max_tokens=4))
        assert info.value.retryable
        await engine.close()


async def test_a_key_file_is_read(tmp_path: Path) -> None:
    key = tmp_path / "key"
    key.write_text("sk-from-file\n")
    engine = engine_at("http://127.0.0.1:1/v1", api_key_file=str(key))
    assert engine._client.api_key == "sk-from-file"
    await engine.close()


async def test_top_logprobs_are_requested_and_mapped_from_the_openai_shape() -> None:
    import httpx
    import openai

    from k2core.engines.openai_compat import ChatAPIEngine

    sent: list[dict[str, object]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(request.content))
        step = lambda token, lp, top: {  # noqa: E731
            "token": token, "logprob": lp, "bytes": list(token.encode()),
            "top_logprobs": [{"token": t, "logprob": v, "bytes": list(t.encode())} for t, v in top],
        }  # fmt: skip
        body = {
            "id": "x", "object": "chat.completion", "created": 0, "model": "m",
            "choices": [{
                "index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "AB"},
                "logprobs": {"content": [step("A", -0.4, [("A", -0.4), ("B", -1.1)]), step("B", -0.1, [("B", -0.1)])]},
            }],
            "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7},
        }  # fmt: skip
        return httpx.Response(200, json=body)

    client = openai.AsyncOpenAI(
        base_url="http://127.0.0.1:9/v1", api_key="x", http_client=httpx.AsyncClient(transport=httpx.MockTransport(answer))
    )
    engine = ChatAPIEngine(EngineSettings(engine="openai", model="m"), client, openai)
    [scored] = await engine.generate(COUNT, SamplingParams(temperature=0, top_logprobs=2))
    [plain] = await engine.generate(COUNT, SamplingParams(temperature=0))
    assert sent[0]["logprobs"] is True and sent[0]["top_logprobs"] == 2
    assert "logprobs" not in sent[1] and "top_logprobs" not in sent[1]
    assert scored.logprobs is not None and [s.token for s in scored.logprobs] == ["A", "B"]
    assert scored.logprobs[0].top == {"A": -0.4, "B": -1.1} and scored.logprobs[1].logprob == -0.1
    assert plain.logprobs is None
    await engine.close()
