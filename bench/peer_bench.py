"""Peer benchmark (not a test): llama.cpp's own C++ server (``llama-server``, built from the pinned
llama-cpp-python release's source by ``bench/peers/setup_llama_server.sh``) against the embedded engine, same GGUF,
same box, same thread count.

llama-server runs with three parallel slots (continuous batching: the three sequences of N=3 decode together, as
the embedded engine's ``generate(n=3)`` does), each slot with the engine's context length. Workload: a GSM8K
problem with the solver's instruction, temperature 1.0, top-p 0.95, ``--sample-tokens`` tokens, fixed seeds;
single request and N=3 (three concurrent requests to the server; ``generate(n=3)`` in the engine), the two
systems interleaved per rep (each idle while the other runs), medians. Writes ``bench/results/peer.json``.

    python -m bench.peer_bench [--reps 3] [--sample-tokens 128]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

import httpx

from bench.engine_bench import console, machine, make_engine, problem_messages, timed, write_result
from bench.peers.processes import HOST, free_port, llama_server, setup_llama_server
from k2core.config import Settings
from k2core.engines.llamacpp import decode_threads
from k2core.models import resolve_model_path
from k2core.types import SamplingParams


async def server_requests(client: httpx.AsyncClient, base: str, params: SamplingParams, n: int) -> tuple[float, int]:
    """Wall time and completion tokens of ``n`` concurrent chat requests with seeds seed, seed+1, ..."""
    messages = [m.model_dump() for m in problem_messages(0)]

    async def one(seed: int) -> int:
        body = {"messages": messages, "max_tokens": params.max_tokens, "temperature": params.temperature,
                "top_p": params.top_p, "seed": seed}
        response = await client.post(f"{base}/chat/completions", json=body)
        response.raise_for_status()
        return int(response.json()["usage"]["completion_tokens"])

    assert params.seed is not None
    start = time.perf_counter()
    tokens = await asyncio.gather(*(one(params.seed + i) for i in range(n)))
    return time.perf_counter() - start, sum(tokens)


async def run(args: argparse.Namespace, settings: Settings, log: Path) -> dict[str, Any]:
    cfg = settings.solver.embedded
    model = resolve_model_path(cfg, settings.cache_dir)
    engine = make_engine(str(model), settings.cache_dir)
    await engine.load()
    messages = problem_messages(0)
    await engine.generate(messages, SamplingParams(temperature=0, max_tokens=4))  # warm-up
    port = free_port()
    threads = decode_threads(cfg)
    server = llama_server(setup_llama_server(), model, port, log, slots=3, n_ctx=cfg.n_ctx, threads=threads,
                          kv_cache_type=cfg.kv_cache_type)
    base = f"http://{HOST}:{port}/v1"
    rates: dict[str, list[float]] = {"server_n1": [], "server_n3": [], "engine_n1": [], "engine_n3": []}
    try:
        async with httpx.AsyncClient(timeout=600) as client:
            await server_requests(client, base, SamplingParams(temperature=0, max_tokens=4, seed=0), 1)  # warm-up
            for rep in range(args.reps):
                seed = 3000 + 10 * rep
                params = SamplingParams(temperature=1.0, top_p=0.95, max_tokens=args.sample_tokens, seed=seed)
                for n in (1, 3):
                    wall, tokens = await server_requests(client, base, params, n)
                    rates[f"server_n{n}"].append(tokens / wall)
                    timing, completions = await timed(engine, messages, params, n)
                    rates[f"engine_n{n}"].append(sum(c.completion_tokens for c in completions) / timing.wall_s)
                console.print(f"rep {rep}: " + ", ".join(f"{k} {v[-1]:.1f} tok/s" for k, v in rates.items()))
    finally:
        server.stop()
        await engine.close()
    medians = {f"{name}_tok_per_s": round(statistics.median(values), 2) for name, values in rates.items()}
    ratios = {f"engine_over_server_n{n}": round(statistics.median(
        e / s for e, s in zip(rates[f"engine_n{n}"], rates[f"server_n{n}"], strict=True)), 3) for n in (1, 3)}
    target = all(value >= 0.9 for value in ratios.values())
    return {"figures": {**medians, **ratios, "target_met": target}, "runs": rates}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--sample-tokens", type=int, default=128)
    args = parser.parse_args(argv)
    before = machine()
    settings = Settings()
    with tempfile.TemporaryDirectory() as scratch:
        body = asyncio.run(run(args, settings, Path(scratch) / "server.log"))
    workload = (
        f"llama.cpp's llama-server (C++, built from llama-cpp-python {version('llama-cpp-python')}'s source, "
        f"3 parallel slots) vs the embedded engine, "
        f"same GGUF, {decode_threads(settings.solver.embedded)} thread(s) each, "
        f"n_ctx {settings.solver.embedded.n_ctx}, {settings.solver.embedded.kv_cache_type} KV cache; "
        f"GSM8K problem 0, temperature 1.0, top-p 0.95, {args.sample_tokens} tokens; N=1 and N=3 (three concurrent "
        f"requests to the server, generate(n=3) in the engine); {args.reps} interleaved reps, medians of tokens/s"
    )
    write_result("peer", workload, {"reps": args.reps, "sample_tokens": args.sample_tokens}, body, before)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
