"""With TLS on, kubelet probes use a plaintext health-only port, and the gateway's HTTP facade serves HTTPS."""

from __future__ import annotations

import ssl
from pathlib import Path

import grpc
import httpx
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from k2core.pipeline.planner import EnginePlanner
from services.gen.k2think.v1 import planner_pb2, planner_pb2_grpc
from services.planner import server as planner
from tests.services.harness import FakeEngine, make_settings, start_stack
from tests.services.test_tls import certificate  # noqa: F401  (fixture)


async def _health(address: str) -> int:
    async with grpc.aio.insecure_channel(address) as channel:
        reply = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=2)
    return reply.status


async def test_plaintext_health_port_serves_only_health(certificate: tuple[Path, Path]) -> None:  # noqa: F811
    cert, key = certificate
    settings = make_settings(tls_cert_file=str(cert), tls_key_file=str(key), health_port=0)
    server = planner.create(EnginePlanner(FakeEngine()), settings, 0)
    await server.start()
    try:
        health_address = f"127.0.0.1:{server.health_port}"
        assert await _health(health_address) == health_pb2.HealthCheckResponse.SERVING
        async with grpc.aio.insecure_channel(health_address) as channel:
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await planner_pb2_grpc.PlannerStub(channel).Plan(planner_pb2.PlanRequest(problem="2+2?"), timeout=2)
        assert caught.value.code() == grpc.StatusCode.UNIMPLEMENTED
    finally:
        await server.stop(0)
    with pytest.raises(grpc.aio.AioRpcError):
        await _health(health_address)


async def test_no_health_port_unless_configured() -> None:
    server = planner.create(EnginePlanner(FakeEngine()), make_settings(), 0)
    assert server.health_server is None


async def test_gateway_http_serves_https_with_the_tls_files(certificate: tuple[Path, Path]) -> None:  # noqa: F811
    cert, key = certificate
    stack = await start_stack(make_settings(tls_cert_file=str(cert), tls_key_file=str(key)))
    port = stack.gateway.http["http"].port
    try:
        async with httpx.AsyncClient(verify=ssl.create_default_context(cafile=cert), timeout=5) as client:
            assert (await client.get(f"https://127.0.0.1:{port}/healthz")).status_code == 200
        async with httpx.AsyncClient(timeout=5) as client:
            with pytest.raises(httpx.HTTPError):
                await client.get(f"http://127.0.0.1:{port}/healthz")
    finally:
        await stack.stop()
