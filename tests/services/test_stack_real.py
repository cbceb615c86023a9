"""`k2think up` on the embedded model: four real processes, gRPC Solve/SolveStream, the openai client, `solve
--target`, metrics, a killed service restarted while the others serve, and a clean stop on SIGTERM (slow: loads the
real model in three processes)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import httpx
import openai
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from k2core.pipeline import CandidateDeltaEvent, FinalEvent, PlanEvent, SolveRequest
from services.remote import ReasonerClient, solve_remote
from services.settings import ServiceSettings
from tests.conftest import STACK_PORT_SETTINGS, free_ports

pytestmark = pytest.mark.slow
PROBLEM = "What is 12 + 30?"
# Short outputs keep the suite quick on CPU; the flow is the same as with the defaults.
_QUICK = {"K2_PIPELINE__MAX_TOKENS": "48", "K2_PIPELINE__PLAN_MAX_TOKENS": "48", "K2_PIPELINE__JUDGE_MAX_TOKENS": "32"}


class LocalStack:
    """A running `k2think up` and the settings a client needs to reach it."""

    def __init__(
        self, process: subprocess.Popen[str], endpoints: dict[str, str], env: dict[str, str], log: Path
    ) -> None:
        self.process, self.endpoints, self.env, self.log = process, endpoints, env, log
        self.settings = ServiceSettings()
        self.target = endpoints["gateway_grpc"]

    def port(self, name: str) -> int:
        return int(self.env[f"K2_SERVER__{name}"])

    def request(self, **overrides: object) -> SolveRequest:
        return SolveRequest.from_settings(PROBLEM, self.settings, **{"n": 1, "seed": 7, "max_tokens": 48, **overrides})


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    log = tmp_path_factory.mktemp("up") / "stack.log"
    ports = {
        f"K2_SERVER__{name}": str(port)
        for name, port in zip(STACK_PORT_SETTINGS, free_ports(len(STACK_PORT_SETTINGS)), strict=True)
    }
    env = {**os.environ, **_QUICK, **ports}
    with log.open("w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "services.cli", "up", "--json", "--ready-timeout", "240"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
    line = process.stdout.readline() if process.stdout else ""
    if not line:
        process.wait(30)
        pytest.fail(f"k2think up exited with {process.returncode}:\n{Path(log).read_text()[-4000:]}")
    try:
        yield LocalStack(process, json.loads(line), env, log)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(60)


def test_every_service_reports_serving(stack: LocalStack) -> None:
    for name in ("gateway_grpc", "planner", "solver", "judge"):
        with grpc.insecure_channel(stack.endpoints[name]) as channel:
            reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
        assert reply.status == health_pb2.HealthCheckResponse.SERVING, name


async def test_solve_over_grpc(stack: LocalStack) -> None:
    result = await solve_remote(stack.target, stack.request(n=2), stack.settings)
    assert len(result.candidates) == 2 and all(c.text for c in result.candidates)
    # Either one answer stands alone ("answered"), both agree, or they differ and the judge runs in both orders.
    assert result.selection.method in {"answered", "majority", "judge"} and result.usage["judge"].calls in {0, 2}
    assert (result.selection.method == "judge") == (result.usage["judge"].calls == 2)
    assert result.usage["solver"].completion_tokens > 0 and result.usage["planner"].calls <= 1
    assert set(result.timings_s) == {"plan", "solve", "select", "total"}


async def test_solve_stream_over_grpc(stack: LocalStack) -> None:
    client = ReasonerClient(stack.target, stack.settings)
    try:
        events = [event async for event in client.events(stack.request())]
    finally:
        await client.close()
    assert isinstance(events[0], PlanEvent) and isinstance(events[-1], FinalEvent)
    streamed = "".join(e.text for e in events if isinstance(e, CandidateDeltaEvent) and e.index == 0)
    assert streamed == events[-1].result.candidates[0].text


async def test_openai_client_against_the_gateway(stack: LocalStack) -> None:
    client = openai.AsyncOpenAI(base_url=stack.endpoints["gateway_http"], api_key="unused", max_retries=0)
    messages = [{"role": "user", "content": PROBLEM}]
    extra = {"best_of": 1, "seed": 7}
    completion = await client.chat.completions.create(
        model="k2think", messages=messages, max_tokens=48, extra_body=extra
    )
    assert completion.choices[0].message.content and completion.usage.completion_tokens > 0
    stream = await client.chat.completions.create(
        model="k2think",
        messages=messages,
        max_tokens=48,
        stream=True,
        stream_options={"include_usage": True},
        extra_body=extra,
    )
    chunks = [chunk async for chunk in stream]
    kinds = {c.model_extra["k2think"]["kind"] for c in chunks if (c.model_extra or {}).get("k2think")}
    assert {"plan", "candidate_delta", "candidate_done", "final"} <= kinds
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert chunks[-1].usage.completion_tokens > 0


def test_cli_solve_with_target(stack: LocalStack) -> None:
    command = [sys.executable, "-m", "services.cli", "solve", PROBLEM, "--target", stack.target, "--n", "1"]
    done = subprocess.run([*command, "--max-tokens", "48", "--json"], env=stack.env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)
    assert len(record["candidates"]) == 1 and record["usage"]["total"]["completion_tokens"] > 0


def test_metrics_of_every_service(stack: LocalStack) -> None:
    ports = {
        "gateway": stack.port("GATEWAY_HTTP_PORT"),
        "planner": stack.port("PLANNER_METRICS_PORT"),
        "solver": stack.port("SOLVER_METRICS_PORT"),
        "judge": stack.port("JUDGE_METRICS_PORT"),
    }
    for role, port in ports.items():
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        assert f"k2think_{role}_inflight_requests" in text, role


def serving(address: str) -> bool:
    with grpc.insecure_channel(address) as channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=2)
        except grpc.RpcError:
            return False
    return reply.status == health_pb2.HealthCheckResponse.SERVING


def serve_children(pid: int) -> dict[str, int]:
    """The ``k2think serve ROLE`` children of a process, by role."""
    found = {}
    for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
        argv = Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")
        if b"serve" in argv:
            found[argv[argv.index(b"serve") + 1].decode()] = int(child)
    return found


def test_a_dead_service_is_reported_and_restarted_while_the_others_keep_serving(stack: LocalStack) -> None:
    before = serve_children(stack.process.pid)
    os.kill(before["solver"], signal.SIGKILL)
    deadline = time.monotonic() + 240
    while "solver is serving again" not in stack.log.read_text():
        assert time.monotonic() < deadline, stack.log.read_text()[-4000:]
        assert serving(stack.endpoints["gateway_grpc"]) and serving(stack.endpoints["planner"])
        time.sleep(0.5)
    assert "the solver exited with code -9; the other services keep running; restarting it in 1 s" in (
        stack.log.read_text()
    )
    after = serve_children(stack.process.pid)
    others = ("planner", "judge", "gateway")
    assert after["solver"] != before["solver"] and {r: after[r] for r in others} == {r: before[r] for r in others}
    assert serving(stack.endpoints["solver"]) and stack.process.poll() is None


def test_sigterm_stops_every_process(stack: LocalStack) -> None:
    stack.process.send_signal(signal.SIGTERM)
    assert stack.process.wait(60) == 0
    for name in ("gateway_grpc", "planner", "solver", "judge"):
        host, port = stack.endpoints[name].rsplit(":", 1)
        with socket.socket() as probe:
            assert probe.connect_ex((host, int(port))) != 0, f"{name} still listening"
