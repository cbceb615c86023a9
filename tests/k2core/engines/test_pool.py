"""The replica pool: least-loaded routing, failover within the deadline (generate and stream), health tracking
with re-probe after a cooldown, a clear error when nothing is healthy; plus a real server next to a dead one."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from k2core.config import EngineSettings
from k2core.engines import build_engine
from k2core.engines.pool import Pool
from k2core.errors import DeadlineError, EngineError, UnavailableError
from k2core.types import Message, SamplingParams
from tests.conftest import LlamaServer
from tests.fakes import Reply, ScriptedEngine

HI = [Message(role="user", content="hi")]
PARAMS = SamplingParams(max_tokens=8)
DOWN = EngineError("replica down", retryable=True)


def pool(*replicas: ScriptedEngine, timeout_s: float = 5.0, cooldown_s: float = 60.0) -> Pool:
    return Pool(replicas, timeout_s=timeout_s, cooldown_s=cooldown_s)


async def test_requests_go_to_the_least_loaded_replica() -> None:
    a = ScriptedEngine(default=Reply("a", delay=0.2))
    b = ScriptedEngine(default=Reply("b", delay=0.2))
    engines = pool(a, b)
    results = await asyncio.gather(*(engines.generate(HI, PARAMS) for _ in range(4)))
    assert sorted(r[0].text for r in results) == ["a", "a", "b", "b"]
    assert a.max_inflight == 2 and b.max_inflight == 2
    assert [r.inflight for r in engines.replicas] == [0, 0]


async def test_a_failing_replica_is_replaced_and_marked_unhealthy() -> None:
    broken = ScriptedEngine(default=Reply(error=DOWN))
    good = ScriptedEngine(default="fine")
    engines = pool(broken, good)
    assert [c.text for c in await engines.generate(HI, PARAMS, n=2)] == ["fine", "fine"]
    assert not engines.replicas[0].healthy and "replica down" in str(engines.replicas[0].last_error)
    await engines.generate(HI, PARAMS)
    assert len(broken.calls) == 1 and len(good.calls) == 2  # no traffic to it during the cooldown


async def test_an_unhealthy_replica_is_reprobed_after_the_cooldown() -> None:
    flaky = ScriptedEngine([Reply(error=DOWN)], default="back")
    other = ScriptedEngine(default=Reply("other", delay=0.3))
    engines = pool(flaky, other, cooldown_s=0.2)
    await engines.generate(HI, PARAMS)
    assert not engines.replicas[0].healthy
    await asyncio.sleep(0.25)
    texts = await asyncio.gather(engines.generate(HI, PARAMS), engines.generate(HI, PARAMS))
    assert engines.replicas[0].healthy and "back" in [t[0].text for t in texts]


async def test_a_replica_dying_mid_request_fails_over_within_the_deadline() -> None:
    dying = ScriptedEngine(default=Reply(delay=0.2, error=EngineError("connection reset", retryable=True)))
    good = ScriptedEngine(default="rescued")
    engines = pool(dying, good)
    [completion] = await engines.generate(HI, PARAMS)
    assert completion.text == "rescued"


async def test_the_request_deadline_bounds_failover() -> None:
    slow = ScriptedEngine(default=Reply("late", delay=5))
    engines = pool(slow, ScriptedEngine(default=Reply("late too", delay=5)), timeout_s=0.3)
    with pytest.raises(DeadlineError):
        await engines.generate(HI, PARAMS)
    assert slow.cancelled == 1


async def test_none_healthy_is_a_clear_unavailable_error() -> None:
    engines = pool(ScriptedEngine(default=Reply(error=DOWN)), ScriptedEngine(default=Reply(error=DOWN)))
    with pytest.raises(UnavailableError, match=r"no healthy scripted replica \(2 configured.*replica down"):
        await engines.generate(HI, PARAMS)
    with pytest.raises(UnavailableError):
        await engines.generate(HI, PARAMS)


async def test_non_retryable_errors_are_not_failed_over() -> None:
    bad_request = ScriptedEngine(default=Reply(error=EngineError("400 bad request", retryable=False)))
    good = ScriptedEngine(default="fine")
    engines = pool(bad_request, good)
    with pytest.raises(EngineError, match="400"):
        await engines.generate(HI, PARAMS)
    assert engines.replicas[0].healthy and not good.calls


async def test_streams_fail_over_only_before_the_first_delta() -> None:
    refuses = ScriptedEngine(default=Reply(error=DOWN))
    good = ScriptedEngine(default="one two three")
    deltas = [d async for d in pool(refuses, good).stream(HI, PARAMS)]
    assert "".join(d.text for d in deltas) == "one two three" and deltas[-1].finish_reason == "stop"

    breaks = ScriptedEngine(default=Reply("one two three", error=DOWN, fail_after_chunks=1))
    spare = ScriptedEngine(default="spare")
    engines = pool(breaks, spare)
    seen = []
    with pytest.raises(EngineError, match="replica down"):
        async for delta in engines.stream(HI, PARAMS):
            seen.append(delta.text)
    assert seen == ["one"] and not spare.calls and not engines.replicas[0].healthy


async def test_health_probes_every_replica_and_close_closes_them() -> None:
    up, down = ScriptedEngine(), ScriptedEngine(healthy=False)
    engines = pool(up, down)
    assert await engines.health()
    assert [r.healthy for r in engines.replicas] == [True, False]
    await engines.close()
    assert up.closed and down.closed


async def test_pool_reports_the_smallest_context_and_shared_capabilities() -> None:
    engines = pool(ScriptedEngine(context_tokens=4096, supports_json_schema=True), ScriptedEngine(context_tokens=2048))
    assert engines.context_tokens == 2048 and not engines.supports_json_schema and engines.name == "scripted"


@pytest.mark.slow
async def test_a_dead_endpoint_next_to_a_real_server(llama_server: LlamaServer, closed_port: int, tmp_path: Path) -> None:
    dead = f"http://127.0.0.1:{closed_port}/v1"
    settings = EngineSettings(engine="openai", endpoints=[dead, llama_server.v1], timeout_s=60)
    engines = build_engine(settings, cache_dir=tmp_path)
    assert isinstance(engines, Pool)
    completions = await engines.generate(HI, SamplingParams(temperature=0, max_tokens=4), n=2)
    assert len(completions) == 2 and all(c.completion_tokens > 0 for c in completions)
    assert [r.healthy for r in engines.replicas] == [False, True]
    deltas = [d async for d in engines.stream(HI, SamplingParams(temperature=0, max_tokens=4))]
    assert deltas[-1].finish_reason
    await engines.close()
