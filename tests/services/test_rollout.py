"""Rollouts on real servers over loopback: readiness waits for a warm engine, liveness catches a wedged one, a
drain sends GOAWAY and finishes in-flight calls, and the gateway's solver pool rides over a drained replica."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from k2core.errors import DeadlineError
from k2core.pipeline.solver import EngineSolver
from k2core.types import Message, SamplingParams
from services import calls, runtime
from services.gen.k2think.v1 import reasoner_pb2, reasoner_pb2_grpc
from services.remote import Client, SolverEndpoints
from services.settings import ServiceSettings
from services.solver import server as solver
from tests.services.harness import FakeEngine, make_settings, start_stack

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
MESSAGES = [Message(role="user", content="What is 2 + 2?")]
PARAMS = SamplingParams(seed=2)


@dataclass
class GatedEngine(FakeEngine):
    """Loads once ``gate`` is set (or fails to, with ``load_error``); ``wedged`` makes ``health()`` hang."""

    gate: asyncio.Event = field(default_factory=asyncio.Event)
    load_error: Exception | None = None
    wedged: bool = False

    async def load(self) -> None:
        await self.gate.wait()
        if self.load_error:
            raise self.load_error

    async def health(self) -> bool:
        if self.wedged:
            await asyncio.sleep(3600)
        return True


async def status(port: int, service: str) -> int:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        request = health_pb2.HealthCheckRequest(service=service)
        reply = await health_pb2_grpc.HealthStub(channel).Check(request, timeout=2)
    return reply.status


async def until(port: int, service: str, expected: int, within_s: float = 3.0) -> None:
    async with asyncio.timeout(within_s):
        while await status(port, service) != expected:
            await asyncio.sleep(0.02)


async def watched_solver(engine: FakeEngine, settings: ServiceSettings | None = None) -> runtime.GrpcServer:
    server = solver.create(EngineSolver(engine), settings or make_settings(), 0)
    server.watch(engine)
    await server.start()
    return server


async def test_ready_only_once_the_engine_has_loaded_and_answered_a_warm_up() -> None:
    engine = GatedEngine()
    server = await watched_solver(engine)
    try:
        for name in ("", solver.SERVICE):
            assert await status(server.port, name) == NOT_SERVING
        assert await status(server.port, runtime.LIVENESS_SERVICE) == SERVING
        assert engine.started == 0
        engine.gate.set()
        await until(server.port, "", SERVING)
        assert await status(server.port, solver.SERVICE) == SERVING
        assert engine.started == engine.finished == 1  # the warm-up generation
    finally:
        await server.stop(0)


async def test_an_engine_that_cannot_load_fails_liveness_and_never_gets_ready() -> None:
    engine = GatedEngine(load_error=RuntimeError("no weights"))
    engine.gate.set()
    server = await watched_solver(engine)
    try:
        await until(server.port, runtime.LIVENESS_SERVICE, NOT_SERVING)
        assert await status(server.port, "") == NOT_SERVING
    finally:
        await server.stop(0)


async def test_liveness_fails_while_engine_health_hangs_and_recovers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runtime, "LIVENESS_PERIOD_S", 0.05)
    monkeypatch.setattr(runtime, "LIVENESS_TIMEOUT_S", 0.1)
    engine = GatedEngine()
    engine.gate.set()
    server = await watched_solver(engine, make_settings(health_port=0))
    try:
        await until(server.port, "", SERVING)
        engine.wedged = True
        await until(server.health_port, runtime.LIVENESS_SERVICE, NOT_SERVING)  # the plaintext probe port too
        assert await status(server.port, "") == SERVING  # readiness is the endpoints' business, not liveness
        engine.wedged = False
        await until(server.port, runtime.LIVENESS_SERVICE, SERVING)
    finally:
        await server.stop(0)


async def test_drain_sends_goaway_so_a_balanced_channel_moves_to_the_other_replica() -> None:
    """One channel over two replicas (as a headless Service resolves): draining the replica serving a call
    finishes that call, and the calls after it go to the other replica."""
    engines = [FakeEngine(word_delay_s=0.05), FakeEngine(word_delay_s=0.05)]
    settings = make_settings(grace_period_s=5.0)
    servers = [await watched_solver(e, settings) for e in engines]
    pool = SolverEndpoints([f"ipv4:127.0.0.1:{servers[0].port},127.0.0.1:{servers[1].port}"], settings)
    try:
        for s in servers:
            await until(s.port, "", SERVING)
        first = asyncio.ensure_future(pool.generate(MESSAGES, PARAMS, 1))
        async with asyncio.timeout(3):
            while not any(e.active for e in engines):
                await asyncio.sleep(0.01)
        busy = next(i for i, e in enumerate(engines) if e.active)
        started = engines[busy].started
        draining = asyncio.create_task(servers[busy].stop())
        await asyncio.sleep(0.05)
        later = await asyncio.gather(*(pool.generate(MESSAGES, PARAMS, 1) for _ in range(4)))
        assert all("boxed{4}" in c[0].text for c in later)
        assert engines[busy].started == started and engines[1 - busy].finished >= 5  # warm-up + 4
        assert "boxed{4}" in (await first)[0].text and engines[busy].cancelled == 0
        await draining
    finally:
        await pool.close()
        for s in servers:
            await s.stop(0)


async def test_two_solver_replicas_one_cut_mid_request_the_request_completes() -> None:
    """The gateway over an explicit list of two solvers: the replica serving the request drains with a grace too
    short to finish it; the solver call fails over to the other replica within the request's deadline."""
    stack = await start_stack(make_settings(), FakeEngine(word_delay_s=0.1), solver_replicas=2)
    try:
        async with grpc.aio.insecure_channel(stack.target) as channel:
            request = reasoner_pb2.SolveRequest(
                problem="What is 2 + 2?", n=1, plan=False, params={"seed": 2}, hard_deadline_s=20
            )
            call = asyncio.ensure_future(reasoner_pb2_grpc.ReasonerStub(channel).Solve(request))
            async with asyncio.timeout(3):
                while not any(e.active for e in stack.solver_engines):
                    await asyncio.sleep(0.01)
            busy = next(i for i, e in enumerate(stack.solver_engines) if e.active)
            await stack.solvers[busy].stop(0.1)
            result = await call
        assert result.answer == "4"
        assert stack.solver_engines[busy].finished == 0 and stack.solver_engines[1 - busy].finished == 1
    finally:
        await stack.stop()


async def test_a_balanced_target_is_not_capped_at_one_servers_limit() -> None:
    """``limits.max_inflight`` bounds calls to one server; a target naming many replicas is bounded by theirs."""
    settings = make_settings()
    settings = settings.model_copy(update={"limits": settings.limits.model_copy(update={"max_inflight": 2})})
    engines = [FakeEngine(word_delay_s=0.1), FakeEngine(word_delay_s=0.1)]
    servers = [await watched_solver(e, settings) for e in engines]
    pool = SolverEndpoints([f"ipv4:127.0.0.1:{servers[0].port},127.0.0.1:{servers[1].port}"], settings)
    try:
        for s in servers:
            await until(s.port, "", SERVING)
        await pool.endpoints[0].client.channel.channel_ready()
        await asyncio.sleep(0.3)  # round robin picks among connected replicas: let it connect to both
        calls = asyncio.gather(*(pool.generate(MESSAGES, PARAMS, 1) for _ in range(4)))
        async with asyncio.timeout(3):
            while sum(e.active for e in engines) < 4:
                await asyncio.sleep(0.01)
        assert len(await calls) == 4
        for target, balanced in (("127.0.0.1:1", False), ("[::1]:1", False), ("k2think-solver.ns.svc:50053", True)):
            client = Client(target, settings, None)
            assert client.balanced is balanced
            await client.close()
    finally:
        await pool.close()
        for s in servers:
            await s.stop(0)


async def test_the_pool_gives_a_call_the_requests_remaining_time_not_a_fixed_timeout() -> None:
    """``solver.timeout_s`` bounds only calls without a deadline; a request's deadline is what the pool uses."""
    settings = make_settings()
    settings = settings.model_copy(update={"solver": settings.solver.model_copy(update={"timeout_s": 0.3})})
    engine = FakeEngine(word_delay_s=0.1)  # about a second a generation
    server = await watched_solver(engine, settings)
    pool = SolverEndpoints([f"127.0.0.1:{server.port}"], settings)
    try:
        await until(server.port, "", SERVING)
        with calls.scope("gateway", "test", {}, 5.0):
            assert "boxed{4}" in (await pool.generate(MESSAGES, PARAMS, 1))[0].text
        with pytest.raises(DeadlineError):
            await pool.generate(MESSAGES, PARAMS, 1)
    finally:
        await pool.close()
        await server.stop(0)
