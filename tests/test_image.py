"""Smoke test of the built k2think image (`make image`, then `make test-image`; marker `image`, outside `make test`).

The container runs the whole stack (`k2think up`) as the image's own user with a read-only root filesystem and
tmpfs scratch (as the chart mounts emptyDirs), reports SERVING, answers a solve over gRPC, and stops cleanly on
SIGTERM. Podman runs as root with runc and cgroupfs (what works inside this build machine's container).
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from services.gen.k2think.v1 import common_pb2, reasoner_pb2, reasoner_pb2_grpc
from tests.conftest import STACK_PORT_SETTINGS, free_ports

REPO = Path(__file__).resolve().parents[1]
VERSION = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
IMAGE = os.environ.get("K2_TEST_IMAGE", f"localhost/k2think:{VERSION}")
PODMAN = shlex.split(os.environ.get("PODMAN", "podman --runtime runc --cgroup-manager=cgroupfs"))

pytestmark = pytest.mark.image


def podman(*args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*PODMAN, *args], capture_output=True, text=True, check=check, timeout=timeout)


@pytest.fixture(scope="module")
def container() -> Iterator[tuple[str, dict[str, int]]]:
    if shutil.which(PODMAN[0]) is None:
        pytest.skip("podman is not installed")
    if podman("image", "exists", IMAGE, check=False).returncode != 0:
        pytest.skip(f"{IMAGE} is not built (make image)")
    ports = dict(zip(STACK_PORT_SETTINGS, free_ports(len(STACK_PORT_SETTINGS)), strict=True))
    env = [f"K2_SERVER__{name}={port}" for name, port in ports.items()]
    name = f"k2think-smoke-{os.getpid()}"
    podman(
        "run", "--detach", "--name", name, "--network", "host", "--read-only",
        "--tmpfs", "/tmp:rw,size=256m,mode=1777", "--tmpfs", "/home/k2think:rw,size=256m,mode=1777",
        "--ulimit", "nofile=16384:16384", "--ulimit", "nproc=4096:4096",
        "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
        *[arg for pair in (("--env", e) for e in env) for arg in pair],
        IMAGE, "up", "--json",
    )  # fmt: skip
    try:
        yield name, ports
    finally:
        podman("rm", "--force", "--time", "5", name, check=False)


def _serving(address: str) -> bool:
    try:
        with grpc.insecure_channel(address) as channel:
            reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=2)
    except grpc.RpcError:
        return False
    return reply.status == health_pb2.HealthCheckResponse.SERVING


def test_runs_as_uid_10001_reports_serving_solves_and_stops_on_sigterm(container):
    name, ports = container
    assert podman("inspect", "--format", "{{.Config.User}}", IMAGE).stdout.strip() == "10001:10001"
    assert podman("exec", name, "id", "-u").stdout.strip() == "10001"
    assert podman("exec", name, "touch", "/opt/k2think/probe", check=False).returncode != 0  # read-only root
    gateway = f"127.0.0.1:{ports['GATEWAY_GRPC_PORT']}"
    deadline = time.monotonic() + 600
    while not _serving(gateway):
        running = podman("inspect", "--format", "{{.State.Running}}", name).stdout.strip()
        assert running == "true", podman("logs", name, check=False).stderr[-3000:]
        assert time.monotonic() < deadline, "the stack did not report SERVING within 600 s"
        time.sleep(2)
    with grpc.insecure_channel(gateway) as channel:
        params = common_pb2.SamplingParams(max_tokens=64, seed=1)
        request = reasoner_pb2.SolveRequest(problem="What is 2 + 2?", n=2, params=params)
        result = reasoner_pb2_grpc.ReasonerStub(channel).Solve(request, timeout=600)  # plan, 2 candidates, judge
    assert len(result.candidates) == 2 and result.selection.method
    started = time.monotonic()
    podman("stop", "--time", "60", name, timeout=90)  # SIGTERM, SIGKILL only after 60 s
    stopped_in = time.monotonic() - started
    assert podman("inspect", "--format", "{{.State.ExitCode}}", name).stdout.strip() == "0"
    assert stopped_in < 60
    assert "k2think stack stopped" in podman("logs", name).stderr
