"""`k2think serve gateway` as a real process (it needs no model): health, no-backend errors, drain on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import grpc
import httpx
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from services.gen.k2think.v1 import reasoner_pb2, reasoner_pb2_grpc
from tests.services.test_stack_real import free_ports


def wait_serving(address: str, timeout_s: float = 90.0) -> None:  # start-up imports are slow on a busy 2-core box
    deadline = time.monotonic() + timeout_s
    with grpc.insecure_channel(address) as channel:
        while time.monotonic() < deadline:
            try:
                reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=1)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.RpcError:
                time.sleep(0.1)
    raise TimeoutError(f"{address} did not become SERVING")


def test_serve_gateway_without_backends_then_sigterm() -> None:
    grpc_port, http_port, dead = free_ports(3)
    env = {
        **os.environ,
        "K2_SERVER__GATEWAY_GRPC_PORT": str(grpc_port),
        "K2_SERVER__GATEWAY_HTTP_PORT": str(http_port),
        "K2_SERVER__PLANNER_ADDRESS": f"127.0.0.1:{dead}",
        "K2_SERVER__SOLVER_ADDRESSES": f'["127.0.0.1:{dead}"]',
        "K2_SERVER__JUDGE_ADDRESS": f"127.0.0.1:{dead}",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "services.cli", "serve", "gateway"], env=env, stderr=subprocess.PIPE, text=True
    )
    try:
        wait_serving(f"127.0.0.1:{grpc_port}")
        with grpc.insecure_channel(f"127.0.0.1:{grpc_port}") as channel:
            with pytest.raises(grpc.RpcError) as caught:
                reasoner_pb2_grpc.ReasonerStub(channel).Solve(
                    reasoner_pb2.SolveRequest(problem="2+2?", n=1), timeout=10
                )
        assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
        assert "no solver endpoint" in caught.value.details()
        assert httpx.get(f"http://127.0.0.1:{http_port}/healthz").json() == {"status": "ok"}
        process.send_signal(signal.SIGTERM)
        assert process.wait(20) == 0
    finally:
        if process.poll() is None:
            process.kill()
    log = process.stderr.read() if process.stderr else ""
    assert "k2think gateway serving" in log and '"code": "UNAVAILABLE"' in log
