"""``tests.fakes.ScriptedEngine`` behaves as documented (the pipeline tests rely on it)."""

from __future__ import annotations

import asyncio

import pytest

from k2core.engines.base import Engine
from k2core.errors import EngineError
from k2core.types import Message, SamplingParams
from tests.fakes import Reply, ScriptedEngine


def ask(text: str) -> list[Message]:
    return [Message(role="user", content=text)]


async def test_script_then_default_per_sample() -> None:
    engine = ScriptedEngine(["first", "second"], default="rest")
    assert isinstance(engine, Engine)
    completions = await engine.generate(ask("q"), SamplingParams(seed=4), n=3)
    assert [c.text for c in completions] == ["first", "second", "rest"]
    assert engine.samples == 3 and engine.calls[0].n == 3 and engine.calls[0].seeds == [4, 5, 6]
    assert completions[0].completion_tokens == 1 and completions[0].prompt_tokens == 1


async def test_by_prompt_lists_are_consumed_and_their_last_entry_repeats() -> None:
    engine = ScriptedEngine(by_prompt={"judge": ["A", "B"]}, default="other")
    texts = [(await engine.generate(ask(f"judge {i}"), SamplingParams()))[0].text for i in range(3)]
    assert texts == ["A", "B", "B"] and (await engine.generate(ask("plan"), SamplingParams()))[0].text == "other"


async def test_callable_scripts_errors_and_cancellation() -> None:
    engine = ScriptedEngine(lambda messages, params, i: Reply(f"t={params.temperature}", delay=0.5))
    task = asyncio.create_task(engine.generate(ask("q"), SamplingParams(temperature=0.3), n=2))
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert engine.cancelled == 2 and engine.inflight == 0
    failing = ScriptedEngine([Reply(error=EngineError("boom"))])
    with pytest.raises(EngineError, match="boom"):
        await failing.generate(ask("q"), SamplingParams())


async def test_stream_word_by_word_and_mid_stream_failure() -> None:
    engine = ScriptedEngine(["one two three", Reply("a b c", error=EngineError("cut"), fail_after_chunks=2)])
    deltas = [d async for d in engine.stream(ask("q"), SamplingParams())]
    assert [d.text for d in deltas[:-1]] == ["one", " two", " three"] and deltas[-1].completion_tokens == 3
    seen = []
    with pytest.raises(EngineError, match="cut"):
        async for delta in engine.stream(ask("q"), SamplingParams()):
            seen.append(delta.text)
    assert seen == ["a", " b"]
