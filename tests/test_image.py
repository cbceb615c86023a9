"""Smoke test of the built k2think image (`make image`, then `make test-image`; marker `image`, outside `make test`),
and of the vLLM images (`make image-gpu`, `make image-train`, or their `TORCH=cpu` variants tagged <version>-cpu).

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


# What each vLLM image must import (its extras and k2think's modules that use them) and a command it must run.
VLLM_IMAGES = {
    "k2think-gpu": (
        "import k2core, services, torch, vllm; from vllm import SamplingParams; "
        "from vllm.engine.arg_utils import AsyncEngineArgs; import k2core.engines.vllm",
        ["--help"],
    ),
    "k2think-train": (
        "import k2core, services, torch, ray, verl, vllm, transformers, peft; "
        "from transformers.models.qwen2 import modeling_qwen2; from verl.trainer import main_ppo; "
        "import k2core.training.hf_model, k2core.training.rayjob",
        ["train", "--help"],
    ),
}


def _built(name: str) -> str:
    """The CUDA build of an image if it is here, else its CPU-torch variant."""
    for tag in (VERSION, f"{VERSION}-cpu"):
        if podman("image", "exists", f"localhost/{name}:{tag}", check=False).returncode == 0:
            return f"localhost/{name}:{tag}"
    pytest.skip(f"localhost/{name}:{VERSION}[-cpu] is not built (make image-{name.removeprefix('k2think-')})")


# A locked-down run: the image's own user, read-only root, tmpfs scratch as the chart's emptyDirs, no network.
LOCKED = ["run", "--rm", "--read-only", "--network", "none", "--tmpfs", "/tmp:rw,size=256m,mode=1777",
          "--tmpfs", "/home/k2think:rw,size=256m,mode=1777", "--ulimit", "nofile=16384:16384",
          "--ulimit", "nproc=4096:4096", "--cap-drop", "ALL"]  # fmt: skip


@pytest.mark.parametrize("name", VLLM_IMAGES)
def test_vllm_image_runs_as_uid_10001_read_only_and_imports_its_stack(name):
    if shutil.which(PODMAN[0]) is None:
        pytest.skip("podman is not installed")
    image, (imports, command), run = _built(name), VLLM_IMAGES[name], LOCKED
    probe = "import os, pathlib; print(os.getuid()); pathlib.Path('/opt/venv/probe').touch()"
    denied = podman(*run, "--entrypoint", "python", image, "-c", probe, check=False, timeout=300)
    assert denied.stdout.split()[:1] == ["10001"] and "Read-only file system" in denied.stderr
    podman(*run, "--entrypoint", "python", image, "-c", imports, timeout=600)
    assert "Usage: k2think" in podman(*run, image, *command, timeout=300).stdout


def test_train_image_starts_a_ray_head_that_runs_a_task():
    """What the RayJobs' head and workers run: `ray start` from the image, as its user on a read-only root."""
    if shutil.which(PODMAN[0]) is None:
        pytest.skip("podman is not installed")
    script = (
        "ray start --head --num-cpus 1 --include-dashboard false --object-store-memory 100000000 "
        "--disable-usage-stats > /tmp/ray-start.log 2>&1 || { cat /tmp/ray-start.log >&2; exit 1; }; "
        'python -c \'import ray; ray.init(address="auto"); '
        'print("task", ray.get(ray.remote(lambda: 6 * 7).remote()))\'; '
        "ray stop"
    )
    done = podman(
        *LOCKED, "--shm-size", "512m", "--entrypoint", "bash", _built("k2think-train"), "-c", script, timeout=300
    )
    assert "task 42" in done.stdout
