"""Service benchmarks (not a test): what the gRPC services add, how the gateway holds 200 streaming clients, and what
the four-process embedded stack costs in memory.

- gRPC path overhead: one request at a time (N=3, plan, judge) through the gateway → planner/solver/judge services,
  against the same pipeline in process, both over an instant engine (fixed plan, verdict and answers, no model),
  interleaved; latency p50/p99 and the p50/p99 added. Five RPCs in a row: the gateway's Solve, one Plan, one
  streamed Generate carrying all three candidates, and one CompareBoth (both orders) per knockout round (two pairs,
  four model calls). The services run in a child process (``--serve-instant``), the client in this one.
- 200 concurrent SolveStream clients on that gateway: errors, latency p50/p99, peak RSS of the service process.
- Memory of ``k2think up`` on the embedded model: RSS and PSS (``/proc/PID/smaps_rollup``; the GGUF is one shared
  mmap) of the planner, solver, judge and gateway processes after a solve has loaded every role's model.
Writes ``bench/results/services.json``.

    python -m bench.service_bench [--requests 200] [--clients 200] [--skip-memory]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import psutil

from bench.engine_bench import console, machine, write_result
from bench.peers.processes import HOST, Child, exit_on_sigterm, free_port
from k2core.pipeline.judge import EngineJudge
from k2core.pipeline.planner import EnginePlanner
from k2core.pipeline.request import SolveRequest
from k2core.pipeline.solve import Pipeline
from k2core.pipeline.solver import EngineSolver
from k2core.types import Completion, Delta, Message, SamplingParams
from services.remote import ReasonerClient
from services.settings import ServiceSettings

PROBLEM = "What is 2 + 2? Put the final answer in \\boxed{}."
HOPS = 5  # sequential RPCs of one N=3 plan+judge solve: Solve, Plan, Generate (one stream), 2 CompareBoth
ECHO = "/k2think.bench.Echo/Echo"


class InstantEngine:
    """The workload's engine: a fixed plan, verdict or answer at once; three seeds give three different answers, so
    selection needs the judge (no majority)."""

    name = "instant"
    supports_json_schema = True
    context_tokens: int | None = None  # no context limit: requests are checked against the settings' limits only

    async def load(self) -> None:
        return None

    def _text(self, params: SamplingParams) -> str:
        properties = (params.json_schema or {}).get("properties", {})
        if "is_hard" in properties:
            return json.dumps({"is_hard": False, "plan": "Add the numbers.", "search_terms": ["addition"]})
        if "winner" in properties:
            return json.dumps({"winner": "A", "confidence": 0.9, "reason": "A is right"})
        answer = 4 + (params.seed or 0) % 3
        return f"2 plus 2 makes {answer}. The answer is \\boxed{{{answer}}}."

    async def generate(self, messages: list[Message], params: SamplingParams, n: int = 1) -> list[Completion]:
        seeds = [None if params.seed is None else params.seed + i for i in range(n)]
        return [Completion(text=self._text(params.with_seed(s)), prompt_tokens=8, completion_tokens=12) for s in seeds]

    async def stream(self, messages: list[Message], params: SamplingParams) -> AsyncIterator[Delta]:
        yield Delta(text=self._text(params))
        yield Delta(finish_reason="stop", prompt_tokens=8, completion_tokens=12)

    async def health(self) -> bool:
        return True

    async def close(self) -> None:
        return None


def instant_settings(clients: int) -> ServiceSettings:
    """Defaults with free ports and room for ``clients`` requests in flight."""
    settings = ServiceSettings()
    limits = settings.limits.model_copy(update={"max_inflight": max(settings.limits.max_inflight, 2 * clients)})
    ports = {
        "planner_port": 0,
        "solver_port": 0,
        "judge_port": 0,
        "gateway_grpc_port": 0,
        "gateway_http_port": 0,
        "host": HOST,
    }
    return settings.model_copy(update={"limits": limits, "server": settings.server.model_copy(update=ports)})


def in_process_pipeline(settings: ServiceSettings) -> Pipeline:
    engine = InstantEngine()
    return Pipeline(EnginePlanner(engine), EngineSolver(engine), EngineJudge(engine), settings)


def echo_server() -> grpc.aio.Server:
    """A bare grpc.aio server (no interceptor, no servicer code) whose one method returns its request: the floor."""

    async def echo(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        return request

    server = grpc.aio.server()
    handler = grpc.unary_unary_rpc_method_handler(echo)
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("k2think.bench.Echo", {"Echo": handler}),))
    return server


async def serve_instant(clients: int) -> None:
    """Planner, solver, judge and gateway servers over the instant engine in this process, and the bare echo server
    of the floor; prints both ports."""
    from services.gateway import server as gateway
    from services.judge import server as judge
    from services.planner import server as planner
    from services.solver import server as solver

    settings = instant_settings(clients)
    engine = InstantEngine()
    roles = {
        "planner": planner.create(EnginePlanner(engine), settings, 0),
        "judge": judge.create(EngineJudge(engine), settings, 0),
        "solver": solver.create(EngineSolver(engine), settings, 0),
    }
    for server in roles.values():
        await server.start()
    addresses = {
        "planner_address": f"{HOST}:{roles['planner'].port}",
        "judge_address": f"{HOST}:{roles['judge'].port}",
        "solver_addresses": [f"{HOST}:{roles['solver'].port}"],
    }
    settings = settings.model_copy(update={"server": settings.server.model_copy(update=addresses)})
    pipeline, closers = gateway.remote_pipeline(settings)
    service = gateway.create(pipeline, settings, 0, 0)
    await service.start()
    echo = echo_server()
    echo_port = echo.add_insecure_port(f"{HOST}:0")
    await echo.start()
    print(f"echo {echo_port}", flush=True)
    print(f"gateway {service.grpc.port}", flush=True)
    await asyncio.Event().wait()


def percentiles(values: list[float]) -> dict[str, float]:
    """p50 and p99 in milliseconds."""
    ordered = sorted(values)
    pick = lambda q: ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]  # noqa: E731
    return {"p50_ms": round(pick(0.5) * 1e3, 3), "p99_ms": round(pick(0.99) * 1e3, 3)}


async def overhead(target: str, echo_target: str, settings: ServiceSettings, requests: int) -> dict[str, Any]:
    """Sequential requests in process and through the gateway, and the floor (``HOPS`` bare unary calls in a row to
    the echo server in the same process as the services), interleaved; latencies and judge calls."""
    pipeline = in_process_pipeline(settings)
    client = ReasonerClient(target, settings)
    echo_channel = grpc.aio.insecure_channel(echo_target)
    echo = echo_channel.unary_unary(ECHO)
    payload = PROBLEM.encode()
    request = SolveRequest(problem=PROBLEM, n=3, params=SamplingParams(max_tokens=64, seed=1))
    local, remote, floor, judge_calls = [], [], [], 0
    try:
        for _ in range(10):  # warm-up: connections, caches
            await pipeline.solve(request)
            await client.solve(request)
            await echo(payload)
        for _ in range(requests):
            start = time.perf_counter()
            for _ in range(HOPS):
                await echo(payload)
            floor.append(time.perf_counter() - start)
            start = time.perf_counter()
            result = await pipeline.solve(request)
            local.append(time.perf_counter() - start)
            start = time.perf_counter()
            await client.solve(request)
            remote.append(time.perf_counter() - start)
            judge_calls += result.usage["judge"].calls
    finally:
        await client.close()
        await echo_channel.close()
    in_process, grpc_path = percentiles(local), percentiles(remote)
    return {
        "in_process": in_process,
        "grpc_path": grpc_path,
        "added_p50_ms": round(grpc_path["p50_ms"] - in_process["p50_ms"], 3),
        "added_p99_ms": round(grpc_path["p99_ms"] - in_process["p99_ms"], 3),
        "floor": {"hops": HOPS, **percentiles(floor)},
        "judge_calls_per_request": judge_calls / requests,
        "requests": requests,
    }


async def concurrent_streams(
    target: str, settings: ServiceSettings, clients: int, service: psutil.Process
) -> dict[str, Any]:
    """``clients`` SolveStream calls at once, each on its own channel; errors, latency, peak RSS of the services."""
    request = SolveRequest(problem=PROBLEM, n=3, params=SamplingParams(max_tokens=64, seed=1))

    async def one() -> float:
        client = ReasonerClient(target, settings)
        try:
            start = time.perf_counter()
            events = [event async for event in client.events(request)]
            if not events:
                raise RuntimeError("the stream ended without events")
            return time.perf_counter() - start
        finally:
            await client.close()

    outcomes = await asyncio.gather(*(one() for _ in range(clients)), return_exceptions=True)
    latencies = [o for o in outcomes if isinstance(o, float)]
    errors = [repr(o) for o in outcomes if not isinstance(o, float)]
    return {
        "clients": clients,
        "errors": len(errors),
        "first_errors": errors[:3],
        **percentiles(latencies),
        "service_peak_rss_mib": round(_peak_rss(service.pid) / 2**20, 1),
    }


def _peak_rss(pid: int) -> int:
    """VmHWM of a process, in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmHWM for process {pid}")


def memory_of(pid: int) -> dict[str, float]:
    """RSS and PSS of one process in MiB (``smaps_rollup``)."""
    fields = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in {"Rss", "Pss"}:
            fields[key.lower() + "_mib"] = round(int(rest.split()[0]) / 1024, 1)
    return fields


def mapped_models(pid: int) -> set[str]:
    """GGUF files a process maps (empty when it is gone or not ours to read)."""
    try:
        lines = Path(f"/proc/{pid}/maps").read_text().splitlines()
    except OSError:
        return set()
    return {line.split(maxsplit=5)[5] for line in lines if line.endswith(".gguf") and len(line.split(maxsplit=5)) == 6}


def outside_sharers(stack: set[int]) -> list[int]:
    """Processes outside ``stack`` that map one of its GGUF files: each takes a share of the file's pages, so the
    stack's PSS reads low while they run (the figure is only clean when this list is empty)."""
    models = set().union(*(mapped_models(pid) for pid in stack))
    return sorted(p.pid for p in psutil.process_iter() if p.pid not in stack and mapped_models(p.pid) & models)


# The default stack gives planner and judge one KV slot each (services.stack.SINGLE_SEQUENCE_ROLES); the comparison
# gives them the solver's four, as every role had before.
FOUR_SLOT_ROLES = {f"K2_{role}__EMBEDDED__MAX_SEQUENCES": "4" for role in ("PLANNER", "JUDGE")}
# The same stack with the KV cache in f16 in every role, against the default's type (bench.kv_cache_bench).
F16_KV_ROLES = {f"K2_{role}__EMBEDDED__KV_CACHE_TYPE": "f16" for role in ("PLANNER", "SOLVER", "JUDGE")}
MEMORY_VARIANTS = (
    ("embedded_stack_memory", "embedded stack", {}),
    ("embedded_stack_memory_f16_kv", "f16-KV stack", F16_KV_ROLES),
    ("embedded_stack_memory_four_slots", "four-slot stack", FOUR_SLOT_ROLES),
)


async def embedded_stack_memory(log: Path, settings_env: dict[str, str]) -> dict[str, Any]:
    """``k2think up`` on the embedded model (plus ``settings_env``), one small solve, then RSS and PSS of each
    role's process."""
    ports = {name: free_port() for name in ("GATEWAY_GRPC", "GATEWAY_HTTP", "PLANNER", "SOLVER", "JUDGE")}
    env = {f"K2_SERVER__{name}_PORT": str(port) for name, port in ports.items()}
    env |= {f"K2_SERVER__{role}_METRICS_PORT": str(free_port()) for role in ("PLANNER", "SOLVER", "JUDGE")}
    env["K2_SERVER__HOST"] = HOST
    env |= settings_env
    with Child("k2think up", [sys.executable, "-m", "services.cli", "up"], log, env=env) as child:
        child.wait_ready(lambda: "stack ready" in child.log.read_text(errors="replace"), timeout_s=600)
        settings = ServiceSettings()
        client = ReasonerClient(f"{HOST}:{ports['GATEWAY_GRPC']}", settings)
        try:
            request = SolveRequest(problem=PROBLEM, n=3, params=SamplingParams(max_tokens=16, seed=1))
            result = await client.solve(request)
        finally:
            await client.close()
        processes = psutil.Process(child.process.pid).children(recursive=True)
        roles = {}
        for process in processes:
            role = next((arg for arg in process.cmdline() if arg in {"planner", "solver", "judge", "gateway"}), None)
            if role is not None:
                roles[role] = {"pid": process.pid, **memory_of(process.pid)}
        supervisor = memory_of(child.process.pid)
        sharers = outside_sharers({r["pid"] for r in roles.values()})
    return {
        "roles": roles,
        "supervisor": supervisor,
        "total_rss_mib": round(sum(r["rss_mib"] for r in roles.values()), 1),
        "total_pss_mib": round(sum(r["pss_mib"] for r in roles.values()), 1),
        "calls": {role: usage.calls for role, usage in result.usage.items()},
        "settings_env": settings_env,
        "outside_model_sharers": sharers,
    }


async def run(args: argparse.Namespace, scratch: Path) -> dict[str, Any]:
    settings = instant_settings(args.clients)
    argv = [sys.executable, "-m", "bench.service_bench", "--serve-instant", "--clients", str(args.clients)]
    out: dict[str, Any] = {}
    if not args.skip_memory:
        for name, _, env in MEMORY_VARIANTS:
            out[name] = await embedded_stack_memory(scratch / f"{name}.log", env)
            console.print(f"{name}: {out[name]}")
    if args.skip_grpc:
        return out
    with Child("instant services", argv, scratch / "services.log") as child:
        child.wait_ready(lambda: "gateway " in child.log.read_text(errors="replace"), timeout_s=60)
        ports = dict(
            line.split() for line in child.log.read_text().splitlines() if line.startswith(("gateway ", "echo "))
        )
        target = f"{HOST}:{ports['gateway']}"
        out["grpc_overhead"] = await overhead(target, f"{HOST}:{ports['echo']}", settings, args.requests)
        console.print(f"gRPC path overhead: {out['grpc_overhead']}")
        out["concurrent_streams"] = await concurrent_streams(
            target, settings, args.clients, psutil.Process(child.process.pid)
        )
        console.print(f"concurrent SolveStream: {out['concurrent_streams']}")
    return out


def figures(out: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    if "grpc_overhead" in out:
        grpc_path, streams = out["grpc_overhead"], out["concurrent_streams"]
        result |= {
            "grpc added p50 ms": grpc_path["added_p50_ms"],
            "grpc added p99 ms": grpc_path["added_p99_ms"],
            "grpc added target met (<= 2 ms p50)": grpc_path["added_p50_ms"] <= 2.0,
            f"grpc floor p50 ms ({grpc_path['floor']['hops']} bare unary calls)": grpc_path["floor"]["p50_ms"],
            f"{streams['clients']} SolveStream errors": streams["errors"],
            f"{streams['clients']} SolveStream p50 ms": streams["p50_ms"],
            f"{streams['clients']} SolveStream p99 ms": streams["p99_ms"],
            "services peak RSS MiB": streams["service_peak_rss_mib"],
        }
    for name, label, _ in MEMORY_VARIANTS:
        if name in out:
            memory = out[name]
            result |= {
                f"{label} RSS MiB": memory["total_rss_mib"],
                f"{label} PSS MiB": memory["total_pss_mib"],
                f"{label} target met (PSS <= 1536 MiB)": memory["total_pss_mib"] <= 1536,
                f"{label} processes outside it sharing the model": len(memory["outside_model_sharers"]),
            }
    return result


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--skip-memory", action="store_true", help="leave out the embedded stack's memory")
    parser.add_argument("--skip-grpc", action="store_true", help="leave out the instant-engine gRPC benchmarks")
    parser.add_argument("--serve-instant", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_instant:
        asyncio.run(serve_instant(args.clients))
        return 0
    before = machine()
    exit_on_sigterm()
    with tempfile.TemporaryDirectory() as scratch:
        out = asyncio.run(run(args, Path(scratch)))
    workload = (
        f"instant engine (no model): {args.requests} sequential N=3 plan+judge solves in process vs through the "
        "gateway and planner/solver/judge services (one child process, client here; 5 RPCs in a row: Solve, Plan, "
        f"one Generate stream for the 3 candidates, 2 CompareBoth), interleaved with the floor: {HOPS} bare grpc.aio "
        f"unary calls in a row to an echo server (no interceptor) in the same child process; {args.clients} "
        "concurrent SolveStream clients, one channel each; memory: `k2think up` on the embedded model after one N=3 "
        "solve of 16 tokens, with the default settings (one KV slot for planner and judge), with the KV cache in "
        "f16 in every role, and with four slots for every role"
    )
    write_result(
        "services",
        workload,
        {"requests": args.requests, "clients": args.clients},
        {"figures": figures(out), **out},
        before,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
