"""Several solver endpoints: requests spread over them and survive a replica dying mid-request."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from k2core.engines.base import Engine
from k2core.errors import UnavailableError
from k2core.pipeline import CandidateDoneEvent, FinalEvent, SolveRequest
from k2core.pipeline.judge import EngineJudge
from k2core.types import Message, SamplingParams
from services.judge import server as judge_server
from services.remote import ReasonerClient, RemoteJudge, SolverEndpoints
from services.settings import ServiceSettings
from tests.services.harness import FakeEngine, Stack, start_stack

MESSAGES = [Message(role="user", content="2+2?")]


async def kill_busy_replica(stack: Stack) -> int:
    """Wait until a solver replica serves a call, then stop it without grace; its index."""
    while True:
        for index, server in enumerate(stack.solvers):
            if server.admission.inflight:
                await asyncio.sleep(0.05)
                await server.server.stop(0)
                return index
        await asyncio.sleep(0.01)


@pytest.fixture
async def two_replicas() -> AsyncIterator[Stack]:
    stack = await start_stack(engine=FakeEngine(word_delay_s=0.03), solver_replicas=2)
    yield stack
    await stack.stop()


def one_candidate(stack: Stack) -> SolveRequest:
    return SolveRequest.from_settings("What is 2 + 2?", stack.settings, n=1, seed=2, plan=False)


async def test_solve_completes_on_the_other_replica(two_replicas: Stack) -> None:
    client = ReasonerClient(two_replicas.target, two_replicas.settings)
    solving = asyncio.create_task(client.solve(one_candidate(two_replicas)))
    killed = await kill_busy_replica(two_replicas)
    result = await solving
    await client.close()
    assert result.answer == "4"
    assert two_replicas.solver_engines[killed].finished == 0
    assert two_replicas.solver_engines[1 - killed].finished == 1


async def test_stream_fails_over_and_replays_without_duplicating_text(two_replicas: Stack) -> None:
    client = ReasonerClient(two_replicas.target, two_replicas.settings)

    async def collect() -> list:
        return [event async for event in client.events(one_candidate(two_replicas))]

    streaming = asyncio.create_task(collect())
    killed = await kill_busy_replica(two_replicas)
    events = await streaming
    await client.close()
    (done,) = [e for e in events if isinstance(e, CandidateDoneEvent)]
    assert done.candidate.text == FakeEngine().text(SamplingParams(seed=2))
    assert isinstance(events[-1], FinalEvent) and events[-1].result.answer == "4"
    assert two_replicas.solver_engines[killed].finished == 0
    assert two_replicas.solver_engines[1 - killed].finished == 1


async def test_candidates_are_split_over_replicas() -> None:
    stack = await start_stack(solver_replicas=2)
    endpoints = SolverEndpoints([f"127.0.0.1:{s.port}" for s in stack.solvers], stack.settings)
    try:
        completions = await endpoints.generate(MESSAGES, SamplingParams(seed=10), 3)
        assert [c.text for c in completions] == [FakeEngine().text(SamplingParams(seed=s)) for s in (10, 11, 12)]
        assert sorted(e.finished for e in stack.solver_engines) == [1, 2]
    finally:
        await endpoints.close()
        await stack.stop()


async def test_no_live_replica_is_unavailable() -> None:
    stack = await start_stack()
    endpoints = SolverEndpoints([f"127.0.0.1:{stack.solvers[0].port}"], stack.settings)
    await stack.solvers[0].server.stop(0)
    try:
        with pytest.raises(UnavailableError, match="no solver endpoint"):
            await endpoints.generate(MESSAGES, SamplingParams(), 1)
    finally:
        await endpoints.close()
        await stack.stop()


async def test_solver_endpoints_are_an_engine_with_the_solver_services_declared_context() -> None:
    settings = ServiceSettings()
    endpoints = SolverEndpoints(["127.0.0.1:1"], settings)
    assert isinstance(endpoints, Engine) and endpoints.context_tokens == settings.solver.embedded.n_ctx
    await endpoints.load()
    await endpoints.close()


async def _streamed(endpoints: SolverEndpoints, n: int, seed: int) -> dict[int, str]:
    """Text of each candidate streamed from ``endpoints``; each must finish exactly once."""
    texts: dict[int, str] = {}
    finished: list[int] = []
    async for item in endpoints.stream_candidates(MESSAGES, SamplingParams(seed=seed), n):
        texts[item.index] = texts.get(item.index, "") + item.delta.text
        if item.delta.finish_reason:
            finished.append(item.index)
    assert sorted(finished) == list(range(n))
    return texts


async def test_streamed_candidates_travel_as_one_call_per_replica_share() -> None:
    stack = await start_stack(solver_replicas=2)
    endpoints = SolverEndpoints([f"127.0.0.1:{s.port}" for s in stack.solvers], stack.settings)
    sizes: list[int] = []
    for endpoint in endpoints.endpoints:
        generate = endpoint.stub.Generate
        endpoint.stub.Generate = lambda request, _g=generate, **kw: (sizes.append(request.n), _g(request, **kw))[1]
    try:
        texts = await _streamed(endpoints, 3, seed=10)
        assert texts == {i: FakeEngine().text(SamplingParams(seed=10 + i)) for i in range(3)}
        assert sorted(e.finished for e in stack.solver_engines) == [1, 2]
        assert sorted(sizes) == [1, 2]  # a share of 2 and a share of 1, each one Generate call
    finally:
        await endpoints.close()
        await stack.stop()


async def test_a_streamed_share_fails_over_and_replays_each_sequence_without_duplicates(two_replicas: Stack) -> None:
    endpoints = SolverEndpoints([f"127.0.0.1:{two_replicas.solvers[0].port}",
                                 f"127.0.0.1:{two_replicas.solvers[1].port}"], two_replicas.settings)
    endpoints.endpoints[1].down_until = float("inf")  # one share of all three on the first replica tried
    try:
        streaming = asyncio.create_task(_streamed(endpoints, 3, seed=20))
        killed = await kill_busy_replica(two_replicas)
        endpoints.endpoints[1].down_until = 0.0
        texts = await streaming
    finally:
        await endpoints.close()
    assert texts == {i: FakeEngine().text(SamplingParams(seed=20 + i)) for i in range(3)}
    assert two_replicas.solver_engines[killed].finished == 0
    assert two_replicas.solver_engines[1 - killed].finished == 3


async def test_a_new_client_reaches_a_server_restarted_where_another_client_saw_it_down(closed_port: int) -> None:
    """A channel held in connect backoff by another client must not fail a new client at once: each channel owns
    its connections (a pod restarted on the same IP:port; was a flaky UNAVAILABLE in CI)."""
    settings = ServiceSettings()
    address = f"127.0.0.1:{closed_port}"
    stale = RemoteJudge(address, settings)
    try:
        with pytest.raises(UnavailableError):
            await stale.compare("2+2?", "4", "5")
        server = judge_server.create(EngineJudge(FakeEngine()), settings, closed_port)  # binds the port
        await server.start()
        fresh = RemoteJudge(address, settings)
        try:
            outcome = await fresh.compare("2+2?", "4", "5")
        finally:
            await fresh.client.close()
            await server.stop(0)
    finally:
        await stale.client.close()
    assert outcome.usage.calls == 1
