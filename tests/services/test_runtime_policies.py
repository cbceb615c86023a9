"""Runtime policies on real servers: auth, backpressure, deadlines, health and drain, reflection, metrics."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import grpc
import httpx
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase

from services.gen.k2think.v1 import reasoner_pb2, reasoner_pb2_grpc
from tests.services.harness import FakeEngine, Stack, make_settings, start_stack

PROBLEM = reasoner_pb2.SolveRequest(problem="What is 2 + 2?", n=2, params={"seed": 1})


def stub(channel: grpc.aio.Channel) -> reasoner_pb2_grpc.ReasonerStub:
    return reasoner_pb2_grpc.ReasonerStub(channel)


async def health_of(address: str) -> int:
    async with grpc.aio.insecure_channel(address) as channel:
        reply = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=2)
    return reply.status


@pytest.mark.parametrize("from_file", [False, True])
async def test_bearer_token_is_required_except_for_health_and_reflection(tmp_path: Path, from_file: bool) -> None:
    secret = tmp_path / "token"
    secret.write_text("s3cret\n")
    auth = {"auth_token_file": str(secret)} if from_file else {"auth_token": "s3cret"}
    stack = await start_stack(make_settings(**auth))
    try:
        async with grpc.aio.insecure_channel(stack.target) as channel:
            for metadata in ((), (("authorization", "Bearer wrong"),), (("authorization", "s3cret"),)):
                with pytest.raises(grpc.aio.AioRpcError) as caught:
                    await stub(channel).Solve(PROBLEM, metadata=metadata)
                assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
            reply = await stub(channel).Solve(PROBLEM, metadata=(("authorization", "Bearer s3cret"),))
            assert reply.answer in {"4", "5"}
        assert await health_of(stack.target) == health_pb2.HealthCheckResponse.SERVING
        assert "k2think.v1.Reasoner" in await asyncio.to_thread(reflected_services, stack.target)
        async with httpx.AsyncClient(base_url=stack.http) as client:
            assert (await client.get("/v1/models")).status_code == 401
            assert (await client.get("/v1/models", headers={"authorization": "Bearer s3cret"})).status_code == 200
            assert (await client.get("/healthz")).status_code == 200
            assert (await client.get("/metrics")).status_code == 200
    finally:
        await stack.stop()


def reflected_services(target: str) -> set[str]:
    """Service names a reflection-only client sees (blocking)."""
    with grpc.insecure_channel(target) as channel:
        return set(ProtoReflectionDescriptorDatabase(channel).get_services())


async def test_reflection_lists_every_service(stack: Stack) -> None:
    services = reflected_services
    assert await asyncio.to_thread(services, stack.target) >= {
        "k2think.v1.Reasoner",
        "grpc.health.v1.Health",
        "grpc.reflection.v1alpha.ServerReflection",
    }
    assert "k2think.v1.Solver" in await asyncio.to_thread(services, f"127.0.0.1:{stack.solvers[0].port}")
    assert "k2think.v1.Planner" in await asyncio.to_thread(services, f"127.0.0.1:{stack.roles['planner'].port}")
    assert "k2think.v1.Judge" in await asyncio.to_thread(services, f"127.0.0.1:{stack.roles['judge'].port}")


async def test_requests_beyond_max_inflight_are_refused_not_queued() -> None:
    stack = await start_stack(engine=FakeEngine(word_delay_s=0.05))
    stack.gateway.grpc.admission.limit = 1
    try:
        async with grpc.aio.insecure_channel(stack.target) as channel:
            first = asyncio.ensure_future(stub(channel).Solve(PROBLEM))
            await asyncio.sleep(0.2)
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await stub(channel).Solve(PROBLEM)
            assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            assert "limits.max_inflight" in caught.value.details()
            assert dict(caught.value.trailing_metadata())["retry-after"] == "1"
            async with httpx.AsyncClient(base_url=stack.http) as client:
                body = {"model": "k2think", "messages": [{"role": "user", "content": "2+2?"}]}
                response = await client.post("/v1/chat/completions", json=body)
            assert response.status_code == 429 and response.headers["retry-after"] == "1"
            assert response.json()["error"]["code"] == "rate_limit_exceeded"
            assert (await first).answer in {"4", "5"}
    finally:
        await stack.stop()


async def test_client_deadline_is_enforced_and_propagated_downstream() -> None:
    engine = FakeEngine(word_delay_s=0.2)
    stack = await start_stack(engine=engine)
    try:
        async with grpc.aio.insecure_channel(stack.target) as channel:
            start = time.monotonic()
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await stub(channel).Solve(PROBLEM, timeout=1.0)
            assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
            assert time.monotonic() - start < 1.5
        for _ in range(20):
            if engine.active == 0:
                break
            await asyncio.sleep(0.05)
        assert engine.active == 0 and engine.cancelled >= 1
        seen = [r for r in engine.remaining if r is not None]
        # gRPC core's grpc-timeout encoding "may round up" (timeout_encoding.h): a hop can see a little more than
        # the caller's 1 s, never the server's default of minutes
        assert seen and all(0 < r <= 1.1 for r in seen)
    finally:
        await stack.stop()


async def test_drain_reports_not_serving_refuses_new_calls_and_finishes_inflight() -> None:
    stack = await start_stack(make_settings(health_port=0), engine=FakeEngine(word_delay_s=0.05))
    probe = f"127.0.0.1:{stack.gateway.grpc.health_port}"  # the main port stops listening as the drain begins
    try:
        assert await health_of(stack.target) == health_pb2.HealthCheckResponse.SERVING
        async with grpc.aio.insecure_channel(stack.target) as channel:
            inflight = asyncio.ensure_future(stub(channel).Solve(PROBLEM))
            await asyncio.sleep(0.2)
            draining = asyncio.create_task(stack.gateway.grpc.stop(grace_s=10))
            await asyncio.sleep(0.05)
            assert await health_of(probe) == health_pb2.HealthCheckResponse.NOT_SERVING
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await stub(channel).Solve(PROBLEM)
            assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
            assert (await inflight).answer in {"4", "5"}
            await draining
    finally:
        await stack.stop()


async def test_metrics_expose_calls_inflight_tokens_and_stage_timings(stack: Stack) -> None:
    async with grpc.aio.insecure_channel(stack.target) as channel:
        await stub(channel).Solve(PROBLEM)
    async with httpx.AsyncClient(base_url=stack.http) as client:
        text = (await client.get("/metrics")).text
    for sample in (
        'k2think_gateway_request_seconds_count{stage="total"}',
        'k2think_gateway_calls_total{code="OK",method="/k2think.v1.Reasoner/Solve"}',
        'k2think_solver_calls_total{code="OK",method="/k2think.v1.Solver/Generate"}',
        'k2think_judge_call_seconds_bucket{le="0.005",method="/k2think.v1.Judge/CompareBoth"}',
        "k2think_solver_inflight_requests 0.0",
        "k2think_solver_completion_tokens_total",
        "k2think_planner_prompt_tokens_total",
    ):
        assert sample in text, sample


async def test_client_cancel_stops_the_engine_within_a_second() -> None:
    engine = FakeEngine(word_delay_s=0.2)
    stack = await start_stack(engine=engine)
    try:
        async with grpc.aio.insecure_channel(stack.target) as channel:
            call = stub(channel).SolveStream(PROBLEM)
            async for event in call:
                if event.WhichOneof("event") == "candidate_delta":
                    break
            assert engine.active > 0
            call.cancel()
        start = time.monotonic()
        while engine.active and time.monotonic() - start < 1.0:
            await asyncio.sleep(0.02)
        assert engine.active == 0 and engine.cancelled >= 1
        assert stack.solvers[0].admission.inflight == 0
    finally:
        await stack.stop()
