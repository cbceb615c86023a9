"""The shared backend's HTTP layer: ``n`` answered with N seeded completions, JSON constraints from vLLM's
``guided_json`` or ``response_format``, llama.cpp server's defaults for what a request leaves out, streams with
usage, and the meter every system's compute is read from. Over an Engine that echoes what it was asked."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from types import SimpleNamespace

import httpx
import pytest

from bench.headtohead.backend import DEFAULT_TEMPERATURE, DEFAULT_TOP_P, Backend, json_schema
from k2core.engines.base import seeds_for
from k2core.types import Completion, Delta, Message, SamplingParams

SCHEMA = {"type": "object", "properties": {"index": {"type": "integer"}}, "required": ["index"]}


class EchoEngine:
    """An Engine whose completions report the sampling they were given (seed, temperature, top-p, cap, schema)."""

    name = "echo"
    context_tokens = 2048

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay

    async def generate(self, messages: list[Message], params: SamplingParams, n: int = 1) -> list[Completion]:
        return [
            Completion(text=json.dumps({**params.model_dump(), "seed": seed}), finish_reason="stop", prompt_tokens=7,
                       completion_tokens=3, seconds=0.0)  # fmt: skip
            for seed in seeds_for(params, n)
        ]

    async def stream(self, messages: list[Message], params: SamplingParams) -> AsyncIterator[Delta]:
        text = json.dumps(params.model_dump())
        for piece in (text[:5], text[5:10], text[10:]):
            await asyncio.sleep(self.delay)
            yield Delta(text=piece)
        yield Delta(finish_reason="stop", prompt_tokens=7, completion_tokens=3)

    async def health(self) -> bool:
        return True

    async def close(self) -> None:
        return None


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    app = Backend(EchoEngine(), "m", 2048, seed=100).app()  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://backend") as http:
        yield http


def _chat(**body: object) -> dict[str, object]:
    return {"model": "m", "messages": [{"role": "user", "content": "q"}], **body}


async def test_n_is_answered_with_n_seeded_completions(client: httpx.AsyncClient) -> None:
    reply = (await client.post("/v1/chat/completions", json=_chat(n=3, seed=40, max_tokens=9))).json()
    echoed = [json.loads(c["message"]["content"]) for c in reply["choices"]]
    assert [e["seed"] for e in echoed] == [40, 41, 42] and {e["max_tokens"] for e in echoed} == {9}
    assert reply["usage"] == {"prompt_tokens": 7, "completion_tokens": 9, "total_tokens": 16}


async def test_what_a_request_leaves_out_takes_the_servers_defaults_and_counter_seeds(client: httpx.AsyncClient) -> None:
    first = (await client.post("/v1/chat/completions", json=_chat(n=2))).json()
    second = (await client.post("/v1/chat/completions", json=_chat())).json()
    echoed = [json.loads(c["message"]["content"]) for c in first["choices"] + second["choices"]]
    assert [e["seed"] for e in echoed] == [100, 101, 102]
    assert echoed[0]["temperature"] == DEFAULT_TEMPERATURE and echoed[0]["top_p"] == DEFAULT_TOP_P
    assert echoed[0]["max_tokens"] == 2048 and echoed[0]["json_schema"] is None


async def test_json_constraints_from_guided_json_or_response_format(client: httpx.AsyncClient) -> None:
    for extra in ({"guided_json": SCHEMA}, {"response_format": {"type": "json_schema", "json_schema": {"schema": SCHEMA}}},
                  {"response_format": {"type": "json_object", "schema": SCHEMA}}):  # fmt: skip
        reply = (await client.post("/v1/chat/completions", json=_chat(**extra))).json()
        assert json.loads(reply["choices"][0]["message"]["content"])["json_schema"] == SCHEMA
    assert json_schema({"response_format": {"type": "json_object"}}) == {"type": "object"}
    assert json_schema({"response_format": {"type": "text"}}) is None


async def test_a_stream_ends_with_usage_and_the_meter_counts_every_request(client: httpx.AsyncClient) -> None:
    await client.post("/v1/chat/completions", json=_chat(n=3))
    body = _chat(stream=True, stream_options={"include_usage": True})
    text = (await client.post("/v1/chat/completions", json=body)).text
    chunks = [json.loads(line[6:]) for line in text.splitlines() if line.startswith("data: {")]
    streamed = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    assert json.loads(streamed)["temperature"] == DEFAULT_TEMPERATURE
    assert chunks[-1]["usage"]["completion_tokens"] == 3 and text.rstrip().endswith("data: [DONE]")
    assert (await client.get("/usage")).json() == {"requests": 2, "prompt_tokens": 14, "completion_tokens": 12}


async def test_bad_requests_name_the_field(client: httpx.AsyncClient) -> None:
    for body, field in ((_chat(n=0), "n"), ({"model": "m", "messages": []}, "messages")):
        reply = await client.post("/v1/chat/completions", json=body)
        assert reply.status_code == 400 and field in reply.json()["error"]["message"]


async def test_a_client_that_goes_away_stops_the_generation_and_its_tokens_still_count() -> None:
    backend = Backend(EchoEngine(delay=1.5), "m", 2048)  # type: ignore[arg-type]
    polls = []

    async def is_disconnected() -> bool:
        polls.append(1)
        return len(polls) >= 2

    request = SimpleNamespace(is_disconnected=is_disconnected)
    work = backend._complete([Message(role="user", content="q")], SamplingParams(), 1)
    assert await backend._unless_disconnected(request, work) is None  # type: ignore[arg-type]
    await asyncio.sleep(0)
    assert backend.meter.completion_tokens == 1 and backend.meter.requests == 1  # one delta made before the cut
