"""Embedded engine benchmark: prompt-lookup speed-up and N=3 batching on the Gemma 3 270M GGUF (not a test).

Workloads, each run ``--reps`` times with the variants interleaved (background load hits each alike), medians:
- prompt lookup: a code-rewrite prompt (the output copies most of the prompt, where lookup pays), greedy,
  ``--lookup-tokens`` new tokens (inside the copied span); tok/s with lookup off and on, and whether the
  greedy texts are identical (with the length of their common prefix: batched verification rows go through
  other llama.cpp CPU kernels than one-token steps, so near-tied tokens can flip).
- N=3 vs 1: a word problem at temperature 1.0, top-p 0.95, ``--sample-tokens`` new tokens, fixed seeds; wall
  time of one ``generate(n=3)`` (decoded together in one batch, one shared prefill) over one ``generate(n=1)``.
Process CPU time is reported next to wall time (the machine may be shared); peak RSS at the end.
Writes ``bench/results/engine.json``.

    python -m bench.engine_bench [--reps 3] [--lookup-tokens 256] [--sample-tokens 128] [--draft-tokens N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import llama_cpp
from rich.console import Console
from rich.progress import Progress

from k2core.config import EngineSettings, Settings
from k2core.engines.llamacpp import LlamaCppEngine
from k2core.types import Message, SamplingParams

RESULTS = Path(__file__).resolve().parent / "results"
CODE = '''def mean(values):
    total = 0
    for value in values:
        total += value
    return total / len(values)


def variance(values):
    m = mean(values)
    total = 0
    for value in values:
        total += (value - m) ** 2
    return total / len(values)


def stddev(values):
    return variance(values) ** 0.5


def median(values):
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2 == 1:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def normalize(values):
    low = min(values)
    high = max(values)
    return [(value - low) / (high - low) for value in values]


def moving_average(values, window):
    averages = []
    for start in range(len(values) - window + 1):
        averages.append(mean(values[start:start + window]))
    return averages
'''
LOOKUP_PROMPT = [Message(role="user", content=f"Rewrite this Python code with type hints and docstrings:\n\n{CODE}")]
SAMPLE_PROMPT = [Message(role="user", content=(
    "A train leaves at 9:40 and arrives at 13:15. It stops twice for 12 minutes each. "
    "How many minutes was it moving? Think step by step, then give the answer."
))]
console = Console(stderr=True)


def engine(prompt_lookup: bool, draft_tokens: int, cache_dir: Path) -> LlamaCppEngine:
    settings = EngineSettings()
    settings.embedded.prompt_lookup = prompt_lookup
    settings.embedded.prompt_lookup_draft_tokens = draft_tokens
    return LlamaCppEngine(settings, cache_dir=cache_dir)


async def timed(e: LlamaCppEngine, messages: list[Message], params: SamplingParams, n: int) -> dict[str, Any]:
    start, cpu = time.perf_counter(), time.process_time()
    completions = await e.generate(messages, params, n)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    tokens = [c.completion_tokens for c in completions]
    stats = completions[0].spec_decode
    return {
        "wall_s": wall,
        "cpu_s": cpu,
        "completion_tokens": tokens,
        "tok_per_s": sum(tokens) / wall,
        "texts": [c.text for c in completions],
        "draft_tokens": stats.draft_tokens if stats else None,
        "accepted_tokens": stats.accepted_tokens if stats else None,
    }


def median(runs: list[dict[str, Any]], key: str) -> float:
    return statistics.median(run[key] for run in runs)


async def run(args: argparse.Namespace, cache_dir: Path) -> dict[str, Any]:
    plain, lookup = engine(False, args.draft_tokens, cache_dir), engine(True, args.draft_tokens, cache_dir)
    await plain.load()
    await lookup.load()  # the same process-wide model and context as ``plain``
    greedy = SamplingParams(temperature=0, max_tokens=args.lookup_tokens)
    sampled = SamplingParams(temperature=1.0, top_p=0.95, max_tokens=args.sample_tokens, seed=1234)
    await timed(plain, SAMPLE_PROMPT, SamplingParams(temperature=0, max_tokens=8), 1)  # warm-up
    runs: dict[str, list[dict[str, Any]]] = {"lookup_off": [], "lookup_on": [], "n1": [], "n3": []}
    with Progress(console=console) as progress:
        task = progress.add_task("engine bench", total=args.reps * 4)
        for _ in range(args.reps):
            for name, e, messages, params, n in (
                ("lookup_off", plain, LOOKUP_PROMPT, greedy, 1),
                ("lookup_on", lookup, LOOKUP_PROMPT, greedy, 1),
                ("n1", plain, SAMPLE_PROMPT, sampled, 1),
                ("n3", plain, SAMPLE_PROMPT, sampled, 3),
            ):
                progress.update(task, description=name)
                runs[name].append(await timed(e, messages, params, n))
                progress.advance(task)
    await plain.close()
    await lookup.close()
    return runs


def figures(runs: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    off, on = median(runs["lookup_off"], "tok_per_s"), median(runs["lookup_on"], "tok_per_s")
    n1, n3 = median(runs["n1"], "wall_s"), median(runs["n3"], "wall_s")
    cpu = {name: median(group, "cpu_s") for name, group in runs.items()}
    drafted = sum(r["draft_tokens"] for r in runs["lookup_on"])
    accepted = sum(r["accepted_tokens"] for r in runs["lookup_on"])
    texts = [r["texts"][0] for r in runs["lookup_off"] + runs["lookup_on"]]
    prefix = len(os.path.commonprefix(texts))
    return {
        "lookup_off_tok_per_s": round(off, 2),
        "lookup_on_tok_per_s": round(on, 2),
        "lookup_speedup": round(on / off, 3),
        "lookup_cpu_speedup": round(cpu["lookup_off"] / cpu["lookup_on"], 3),
        "lookup_acceptance_rate": round(accepted / drafted, 3) if drafted else 0.0,
        "lookup_identical_greedy_text": len(set(texts)) == 1,
        "lookup_common_prefix_chars": prefix,
        "lookup_target_met": on / off >= 1.5,
        "n1_wall_s": round(n1, 3),
        "n3_wall_s": round(n3, 3),
        "n3_over_n1_wall": round(n3 / n1, 3),
        "n3_over_n1_cpu": round(cpu["n3"] / cpu["n1"], 3),
        "n1_tok_per_s": round(median(runs["n1"], "tok_per_s"), 2),
        "n3_tok_per_s": round(median(runs["n3"], "tok_per_s"), 2),
        "n3_target_met": n3 / n1 <= 1.4,
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def machine() -> dict[str, Any]:
    cpu = platform.processor()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        names = [line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines() if line.startswith("model name")]
        cpu = names[0] if names else cpu
    return {
        "platform": platform.platform(),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "load_avg_1m": os.getloadavg()[0],
        "python": platform.python_version(),
        "llama_cpp_python": llama_cpp.__version__,
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--lookup-tokens", type=int, default=256)
    parser.add_argument("--sample-tokens", type=int, default=128)
    parser.add_argument("--draft-tokens", type=int, default=Settings().solver.embedded.prompt_lookup_draft_tokens)
    args = parser.parse_args(argv)
    settings = Settings()
    settings.solver.embedded.prompt_lookup_draft_tokens = args.draft_tokens
    runs = asyncio.run(run(args, settings.cache_dir))
    result = {
        "name": "engine",
        "workload": (
            f"embedded Gemma 3 270M Q4_K_M; prompt lookup: code rewrite, greedy, {args.lookup_tokens} tokens; "
            f"{args.draft_tokens} draft tokens; N=3 vs 1: word problem, temperature 1.0, top-p 0.95, "
            f"{args.sample_tokens} tokens; {args.reps} interleaved reps, medians; wall and process CPU time"
        ),
        "settings": {**settings.solver.embedded.model_dump(), "reps": args.reps},
        "figures": figures(runs),
        "runs": runs,
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / "engine.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    for key, value in result["figures"].items():
        console.print(f"{key}: {value}")
    console.print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
