"""Shared fixtures: the prepared embedded model, a real ``python -m llama_cpp.server`` peer, free ports."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from k2core.config import Settings
from k2core.models import ensure_embedded_model


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# The Settings port fields a whole local stack (or the image) listens on, as K2_SERVER__<name>.
STACK_PORT_SETTINGS = (
    "GATEWAY_GRPC_PORT",
    "GATEWAY_HTTP_PORT",
    "PLANNER_PORT",
    "SOLVER_PORT",
    "JUDGE_PORT",
    "PLANNER_METRICS_PORT",
    "SOLVER_METRICS_PORT",
    "JUDGE_METRICS_PORT",
)


def free_ports(count: int) -> list[int]:
    """Ports free right now (held open together so they are distinct)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


@dataclass
class LlamaServer:
    """A running llama.cpp server: ``root`` is its address, ``v1`` the OpenAI base URL."""

    root: str
    process: subprocess.Popen[bytes]

    @property
    def v1(self) -> str:
        return f"{self.root}/v1"


@pytest.fixture(scope="session")
def embedded_model_path() -> Path:
    """The default GGUF (Qwen2.5-Coder-0.5B-Instruct), assembled into the cache dir once."""
    return ensure_embedded_model(Settings())


@pytest.fixture
def closed_port() -> int:
    """A port on 127.0.0.1 nothing listens on: connections to it are refused."""
    return free_port()


@pytest.fixture(scope="session")
def llama_server(embedded_model_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaServer]:
    """``python -m llama_cpp.server`` with the embedded model on a free port; killed at the end of the session."""
    port = free_port()
    log = tmp_path_factory.mktemp("llama-server") / "server.log"
    command = [
        sys.executable, "-m", "llama_cpp.server", "--model", str(embedded_model_path), "--host", "127.0.0.1",
        "--port", str(port), "--n_ctx", "4096", "--verbose", "False",  # chat template from the GGUF
    ]
    with log.open("wb") as sink:
        process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT)
    server = LlamaServer(root=f"http://127.0.0.1:{port}", process=process)
    try:
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"llama_cpp.server exited with {process.returncode}:\n{log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{server.v1}/models", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"llama_cpp.server did not answer within 120 s:\n{log.read_text()[-2000:]}")
            time.sleep(0.3)
        yield server
    finally:
        process.kill()
        process.wait(timeout=10)
