"""`k2think up` keeps serving when one service dies: it says so on stderr and restarts that one (roles run the
``openai`` engine against an address nobody serves, so the stack starts without loading a model)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.services.test_stack_real import _PORTS, free_ports

pytestmark = pytest.mark.slow
_NO_MODEL = {f"K2_{role}__{key}": value for role in ("PLANNER", "SOLVER", "JUDGE")
             for key, value in (("ENGINE", "openai"), ("BASE_URL", "http://127.0.0.1:9/v1"))}


def serving(address: str) -> bool:
    with grpc.insecure_channel(address) as channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=2)
        except grpc.RpcError:
            return False
    return reply.status == health_pb2.HealthCheckResponse.SERVING


def children(pid: int) -> dict[str, int]:
    """The ``k2think serve ROLE`` children of a process, by role."""
    found = {}
    for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
        argv = Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")
        if b"serve" in argv:
            found[argv[argv.index(b"serve") + 1].decode()] = int(child)
    return found


@pytest.fixture
def up(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], dict[str, str], Path]]:
    log = tmp_path / "stack.log"
    ports = {f"K2_SERVER__{name}": str(port) for name, port in zip(_PORTS, free_ports(len(_PORTS)), strict=True)}
    with log.open("w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "services.cli", "up", "--json", "--ready-timeout", "240"],
            env={**os.environ, **_NO_MODEL, **ports}, stdout=subprocess.PIPE, stderr=stderr, text=True,
        )
    line = process.stdout.readline() if process.stdout else ""
    if not line:
        process.wait(30)
        pytest.fail(f"k2think up exited with {process.returncode}:\n{log.read_text()[-4000:]}")
    try:
        yield process, json.loads(line), log
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(60)


def test_a_dead_service_is_reported_and_restarted_while_the_others_keep_serving(
    up: tuple[subprocess.Popen[str], dict[str, str], Path],
) -> None:
    process, endpoints, log = up
    before = children(process.pid)
    os.kill(before["solver"], signal.SIGKILL)
    deadline = time.monotonic() + 150
    while "solver is serving again" not in log.read_text():
        assert time.monotonic() < deadline, log.read_text()[-4000:]
        assert serving(endpoints["gateway_grpc"]) and serving(endpoints["planner"])
        time.sleep(0.3)
    text = log.read_text()
    assert "the solver exited with code -9; the other services keep running; restarting it in 1 s" in text
    after = children(process.pid)
    assert after["solver"] != before["solver"] and {r: after[r] for r in ("planner", "judge", "gateway")} == {
        r: before[r] for r in ("planner", "judge", "gateway")
    }
    assert serving(endpoints["solver"]) and process.poll() is None
