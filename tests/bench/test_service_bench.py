"""The service benchmark's measuring parts: the bare-gRPC floor and the check that nothing outside the stack shares
its model file (which would make the stack's PSS read low)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import grpc

from bench import service_bench

MAPPER = """
import mmap, sys
with open(sys.argv[1], "rb") as f:
    m = mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ)
    print("mapped", flush=True)
    sys.stdin.read()
"""


def test_a_process_mapping_the_stacks_model_is_an_outside_sharer(tmp_path: Path) -> None:
    model = tmp_path / "model.gguf"
    model.write_bytes(b"GGUF" + bytes(8192))
    stack_member = subprocess.Popen(
        [sys.executable, "-c", MAPPER, str(model)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    outsider = subprocess.Popen(
        [sys.executable, "-c", MAPPER, str(model)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        for process in (stack_member, outsider):
            assert process.stdout is not None and process.stdout.readline().strip() == "mapped"
        assert service_bench.mapped_models(stack_member.pid) == {str(model)}
        assert service_bench.outside_sharers({stack_member.pid}) == [outsider.pid]
        assert service_bench.mapped_models(os.getpid()) == set()
    finally:
        for process in (stack_member, outsider):
            process.kill()
            process.wait()
    assert service_bench.outside_sharers({stack_member.pid}) == []  # a gone process maps nothing


def test_the_echo_server_returns_the_request_untouched() -> None:
    async def call() -> bytes:
        server = service_bench.echo_server()
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        try:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
                return await channel.unary_unary(service_bench.ECHO)(b"k2think")
        finally:
            await server.stop(None)

    assert asyncio.run(call()) == b"k2think"


def test_figures_report_the_floor_next_to_the_added_time() -> None:
    out = {
        "grpc_overhead": {
            "added_p50_ms": 6.6,
            "added_p99_ms": 10.4,
            "floor": {"hops": 5, "p50_ms": 3.3, "p99_ms": 5.0},
        },
        "concurrent_streams": {
            "clients": 200,
            "errors": 0,
            "p50_ms": 1.0,
            "p99_ms": 2.0,
            "service_peak_rss_mib": 140.0,
        },
        "embedded_stack_memory": {"total_rss_mib": 2679.1, "total_pss_mib": 1635.3, "outside_model_sharers": [12]},
    }
    figures = service_bench.figures(out)
    assert figures["grpc floor p50 ms (5 bare unary calls)"] == 3.3
    assert figures["grpc added target met (<= 2 ms p50)"] is False
    assert figures["embedded stack target met (PSS <= 1536 MiB)"] is False
    assert figures["embedded stack processes outside it sharing the model"] == 1


def test_figures_put_the_f16_kv_stack_beside_the_default() -> None:
    memory = {"total_rss_mib": 2400.0, "total_pss_mib": 1360.0, "outside_model_sharers": []}
    f16 = {"total_rss_mib": 2679.1, "total_pss_mib": 1635.3, "outside_model_sharers": []}
    figures = service_bench.figures({"embedded_stack_memory": memory, "embedded_stack_memory_f16_kv": f16})
    assert figures["embedded stack target met (PSS <= 1536 MiB)"] is True
    assert figures["f16-KV stack PSS MiB"] == 1635.3 and figures["f16-KV stack target met (PSS <= 1536 MiB)"] is False
    assert all(env[key] == "f16" for env in [service_bench.F16_KV_ROLES] for key in env)
    assert {key.split("__")[0] for key in service_bench.F16_KV_ROLES} == {"K2_PLANNER", "K2_SOLVER", "K2_JUDGE"}
