"""Child processes the benches start: the shared backend, optillm's proxy and the k2think stack, on free ports."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import httpx

HOST = "127.0.0.1"
PEERS = Path(__file__).resolve().parent


def free_port() -> int:
    """A loopback TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


class Child:
    """A child process with its output in a log file; stopped with SIGTERM, then SIGKILL after ``grace_s``."""

    def __init__(self, name: str, argv: Sequence[str], log: Path, env: Mapping[str, str] | None = None) -> None:
        self.name, self.log = name, log
        log.parent.mkdir(parents=True, exist_ok=True)
        self._sink = log.open("w")
        self.process = subprocess.Popen(
            list(argv), stdout=self._sink, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}, start_new_session=True
        )

    def wait_ready(self, ready: Callable[[], bool], timeout_s: float) -> None:
        """Poll ``ready`` until it holds; raise with the log's tail if the process dies or time runs out."""
        deadline = time.monotonic() + timeout_s
        while not ready():
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with code {self.process.returncode}: {self.tail()}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.name} not ready after {timeout_s:.0f} s: {self.tail()}")
            time.sleep(0.5)

    def tail(self, lines: int = 15) -> str:
        """The last lines of the log."""
        self._sink.flush()
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def stop(self, grace_s: float = 15.0) -> None:
        """Terminate this child's process group; kill it when it does not leave within ``grace_s``."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(grace_s)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self._sink.close()

    def __enter__(self) -> "Child":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def exit_on_sigterm() -> None:
    """Make SIGTERM leave like Ctrl-C: ``SystemExit`` unwinds the bench, so every ``Child`` it started (each in its
    own session, out of reach of a signal to the bench's group) is stopped on the way out, not orphaned."""

    def leave(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, leave)


def http_ok(url: str) -> Callable[[], bool]:
    """A readiness check: GET ``url`` answers 200."""

    def check() -> bool:
        try:
            return httpx.get(url, timeout=2.0).status_code == 200
        except httpx.HTTPError:
            return False

    return check


def backend_server(model: Path, port: int, alias: str, log: Path, slots: int, n_ctx: int,
                   threads: int | None = None) -> Child:
    """The head-to-head backend (``bench.headtohead.backend``: the embedded engine behind OpenAI's chat route,
    ``slots`` sequences decoded together) on ``port``."""
    argv = [
        sys.executable, "-m", "bench.headtohead.backend", "--model", str(model), "--port", str(port), "--host", HOST,
        "--alias", alias, "--slots", str(slots), "--n-ctx", str(n_ctx),
    ]  # fmt: skip
    if threads is not None:
        argv += ["--threads", str(threads)]
    child = Child("backend", argv, log)
    child.wait_ready(http_ok(f"http://{HOST}:{port}/v1/models"), timeout_s=180)
    return child


def _run_setup(script: str) -> Path:
    """Run one of the peers' idempotent ``setup_*.sh`` scripts; the path it prints last."""
    done = subprocess.run(["bash", str(PEERS / script)], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{script} failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    return Path(done.stdout.strip().splitlines()[-1])


def setup_optillm() -> Path:
    """optillm's executable in its own virtualenv (made by ``setup_optillm.sh`` on first use)."""
    return _run_setup("setup_optillm.sh")


def setup_llama_server() -> Path:
    """llama.cpp's ``llama-server``, built on first use by ``setup_llama_server.sh`` from the pinned
    llama-cpp-python release's source, so it is the llama.cpp the embedded engine links."""
    return _run_setup("setup_llama_server.sh")


def llama_server(executable: Path, model: Path, port: int, log: Path, slots: int, n_ctx: int, threads: int,
                 kv_cache_type: str = "f16") -> Child:
    """``llama-server`` on ``port`` with ``slots`` parallel slots (continuous batching), each with an ``n_ctx``
    context, ``threads`` threads for decode and prompt, a ``kv_cache_type`` KV cache (flash attention on for a
    quantised one, as the embedded engine does), CPU only, the GGUF's own chat template."""
    argv = [
        str(executable), "--model", str(model), "--host", HOST, "--port", str(port), "--parallel", str(slots),
        "--ctx-size", str(n_ctx * slots), "--threads", str(threads), "--threads-batch", str(threads),
        "--n-gpu-layers", "0", "--no-webui", "--cache-type-k", kv_cache_type, "--cache-type-v", kv_cache_type,
    ]  # fmt: skip
    if kv_cache_type != "f16":
        argv += ["--flash-attn", "on"]
    child = Child("llama-server", argv, log)
    child.wait_ready(http_ok(f"http://{HOST}:{port}/v1/models"), timeout_s=180)
    return child


def optillm_proxy(executable: Path, backend_url: str, port: int, n: int, log: Path) -> Child:
    """optillm's proxy with its best-of-n approach in front of ``backend_url``; the key is a placeholder."""
    argv = [
        str(executable), "--approach", "bon", "--best-of-n", str(n), "--base-url", backend_url,
        "--host", HOST, "--port", str(port),
    ]  # fmt: skip
    child = Child("optillm", argv, log, env={"OPENAI_API_KEY": "sk-local-bench"})
    child.wait_ready(http_ok(f"http://{HOST}:{port}/health"), timeout_s=300)
    return child


def k2think_stack(
    backend_url: str, model: str, log: Path, settings_env: Mapping[str, str] | None = None
) -> tuple[Child, str]:
    """``k2think up`` with every role on the ``openai`` engine at ``backend_url``, on free ports, plus
    ``settings_env`` (``K2_…`` variables); the gateway address."""
    ports = {name: free_port() for name in ("GATEWAY_GRPC", "GATEWAY_HTTP", "PLANNER", "SOLVER", "JUDGE")}
    env = {f"K2_SERVER__{name}_PORT": str(port) for name, port in ports.items()}
    env |= {f"K2_SERVER__{role}_METRICS_PORT": str(free_port()) for role in ("PLANNER", "SOLVER", "JUDGE")}
    env["K2_SERVER__HOST"] = HOST
    # One channel carries every request; a request that outlives the connection's age plus grace is cut off
    # (UNAVAILABLE "max connection age"), so the grace covers the reference's hard timeout.
    env["K2_LIMITS__MAX_CONNECTION_AGE_GRACE_S"] = "7200"
    for role in ("PLANNER", "SOLVER", "JUDGE"):
        env |= {
            f"K2_{role}__ENGINE": "openai",
            f"K2_{role}__BASE_URL": backend_url,
            f"K2_{role}__MODEL": model,
            f"K2_{role}__API_KEY": "sk-local-bench",
        }
    env |= dict(settings_env or {})
    child = Child("k2think stack", [sys.executable, "-m", "services.cli", "up"], log, env=env)
    child.wait_ready(lambda: "stack ready" in child.log.read_text(errors="replace"), timeout_s=300)
    return child, f"{HOST}:{ports['GATEWAY_GRPC']}"
