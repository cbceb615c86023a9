"""Embedded engine benchmark (not a test): per-token overhead over bare ``llama_decode``, N=3 batching, prompt
lookup on reasoning and on copying, on the default Qwen2.5-Coder-0.5B-Instruct GGUF (or ``--model-path``).

Workloads, each ``--reps`` times with the variants interleaved (background load hits each alike), medians:
- overhead and batching: a GSM8K problem with the solver's instruction, temperature 1.0, top-p 0.95, fixed
  seeds, ``--sample-tokens`` new tokens. ``generate(n=1)``, ``generate(n=3)`` and three ``generate(n=1)`` one
  after another (the same three seeds), each next to its floor: the same prefill and the same number of decode
  steps per sequence replayed through bare ``llama_decode`` on a second context with the engine's parameters
  (``bench.decode_floor``), one call per sequence at the sequence counts the engine measured faster that way
  (``embedded.decode_rows``), and n=3 replayed as one batched call per step beside it. Per-token overhead = the
  engine's wall time outside ``llama_decode`` over its time inside it, in the same calls (the engine counts its
  decode time), which background load disturbs least; the floor ratios (wall and process CPU time) compare with a
  separate replay and carry the machine's noise.
- prompt lookup on reasoning: ``--lookup-problems`` GSM8K problems, greedy, ``--lookup-tokens`` tokens, lookup off
  and on: acceptance, speed-up, identical text. And on a copy task (a code rewrite), where lookup is known to pay.
- prefix reuse: the judge's four calls for N=3 (both orders of each pair, one problem) and three candidates
  streamed as separate requests (as the pipeline does when it watches for an early majority): prompt tokens
  decoded vs reused from a sequence slot's KV, and wall time with the reuse on and off.
Writes ``bench/results/engine.json`` with the machine's load average before and after.

    python -m bench.engine_bench [--reps 3] [--sample-tokens 128] [--lookup-tokens 256] [--model-path GGUF]
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
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import llama_cpp
from rich.console import Console

from bench.decode_floor import DecodeFloor, Timing, steps_of
from bench.paths import RESULTS
from k2core.config import EngineSettings, Settings
from k2core.data.datasets import load_dataset
from k2core.engines.llamacpp import LlamaCppEngine, decode_threads
from k2core.pipeline.judge import judge_messages
from k2core.pipeline.solver import solver_messages
from k2core.types import Completion, Message, SamplingParams

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


def median(values):
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2 == 1:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2
'''
COPY_PROMPT = [Message(role="user", content=f"Rewrite this Python code with type hints and docstrings:\n\n{CODE}")]
console = Console(stderr=True)


def make_engine(model_path: str | None, cache_dir: Path, **knobs: Any) -> LlamaCppEngine:
    settings = EngineSettings()
    settings.embedded = settings.embedded.model_copy(update={"model_path": model_path, **knobs})
    return LlamaCppEngine(settings, cache_dir=cache_dir)


async def timed(engine: LlamaCppEngine, messages: list[Message], params: SamplingParams,
                n: int) -> tuple[Timing, list[Completion]]:
    start, cpu, decode = time.perf_counter(), time.process_time(), engine.decode_seconds
    completions = await engine.generate(messages, params, n)
    timing = Timing(time.perf_counter() - start, time.process_time() - cpu, engine.decode_seconds - decode)
    return timing, completions


def problem_messages(index: int) -> list[Message]:
    problem = load_dataset("gsm8k_test", limit=index + 1)[index]
    return solver_messages(problem.prompt, None, problem.domain)


async def batching(engine: LlamaCppEngine, floor: DecodeFloor, batched: DecodeFloor,
                   args: argparse.Namespace) -> list[dict[str, Any]]:
    """Interleaved reps of n=1, n=3 and three sequential n=1, each with its replayed floor (the decode calls the
    engine makes), and n=3's replay as one batched call per step (what batching would cost here)."""
    messages = problem_messages(0)
    prompt = engine._runtime.prompt(messages)  # the bench reads the engine's tokenisation to replay it
    runs = []
    for rep in range(args.reps):
        params = SamplingParams(temperature=1.0, top_p=0.95, max_tokens=args.sample_tokens, seed=1000 + 10 * rep)
        run: dict[str, Any] = {}
        for name, n in (("n1", 1), ("n3", 3)):
            decoded = engine.prefill_tokens[0]
            timing, completions = await timed(engine, messages, params, n)
            reused = len(prompt) - (engine.prefill_tokens[0] - decoded)
            run[name] = {**asdict(timing), "tokens": [c.completion_tokens for c in completions], "reused": reused}
            floor_timing = await asyncio.to_thread(floor.replay, prompt, [steps_of(c) for c in completions], reused)
            run[f"floor_{name}"] = asdict(floor_timing)
        steps = [steps_of(c) for c in completions]
        run["batched_floor_n3"] = asdict(await asyncio.to_thread(batched.replay, prompt, steps, run["n3"]["reused"]))
        sequential = [await timed(engine, messages, params.with_seed(params.seed + i), 1) for i in range(3)]
        run["seq3"] = {"wall_s": sum(t.wall_s for t, _ in sequential), "cpu_s": sum(t.cpu_s for t, _ in sequential),
                       "decode_s": sum(t.decode_s for t, _ in sequential),
                       "tokens": [c.completion_tokens for _, [c] in sequential]}
        runs.append(run)
        console.print(f"rep {rep}: " + ", ".join(f"{k} {v['wall_s']:.2f}s/{v['cpu_s']:.2f}cpu" for k, v in run.items()))
    return runs


def batching_figures(runs: list[dict[str, Any]]) -> dict[str, Any]:
    def med(name: str, key: str) -> float:
        return statistics.median(run[name][key] for run in runs)

    def ratio(a: str, b: str, key: str) -> float:
        return round(statistics.median(run[a][key] / run[b][key] for run in runs), 3)

    n3_tokens = statistics.median(sum(run["n3"]["tokens"]) for run in runs)
    n1_tokens = statistics.median(sum(run["n1"]["tokens"]) for run in runs)
    def outside(name: str) -> float:
        """The engine's time outside llama_decode over its time inside it, in the same calls."""
        return round(statistics.median((run[name]["wall_s"] - run[name]["decode_s"]) / run[name]["decode_s"]
                                       for run in runs), 4)

    figures = {
        "n1_overhead": outside("n1"),
        "n3_overhead": outside("n3"),
        "n1_wall_s": round(med("n1", "wall_s"), 3),
        "n1_floor_wall_s": round(med("floor_n1", "wall_s"), 3),
        "n1_over_floor_wall": ratio("n1", "floor_n1", "wall_s"),
        "n1_over_floor_cpu": ratio("n1", "floor_n1", "cpu_s"),
        "n3_wall_s": round(med("n3", "wall_s"), 3),
        "n3_floor_wall_s": round(med("floor_n3", "wall_s"), 3),
        "n3_over_floor_cpu": ratio("n3", "floor_n3", "cpu_s"),
        "n3_over_n1_wall": ratio("n3", "n1", "wall_s"),
        "n3_over_floor_wall": ratio("n3", "floor_n3", "wall_s"),
        "floor_n3_over_n1_wall": ratio("floor_n3", "floor_n1", "wall_s"),
        "batched_floor_n3_wall_s": round(med("batched_floor_n3", "wall_s"), 3),
        "n3_over_batched_floor_wall": ratio("n3", "batched_floor_n3", "wall_s"),
        "n3_over_3_sequential_wall": ratio("n3", "seq3", "wall_s"),
        "n3_over_3_sequential_cpu": ratio("n3", "seq3", "cpu_s"),
        "n1_tok_per_s": round(n1_tokens / med("n1", "wall_s"), 2),
        "n3_tok_per_s": round(n3_tokens / med("n3", "wall_s"), 2),
    }
    figures["overhead_target_met"] = max(figures["n1_overhead"], figures["n3_overhead"]) <= 0.10
    figures["n3_target_met"] = figures["n3_over_floor_wall"] <= 1.1 and figures["n3_over_3_sequential_wall"] <= 1.0
    return figures


async def lookup(plain: LlamaCppEngine, looking: LlamaCppEngine, workloads: list[tuple[str, list[Message]]],
                 tokens: int, reps: int) -> dict[str, Any]:
    """Greedy text with prompt lookup off and on, interleaved; per workload: speed-up, acceptance, identical text."""
    params = SamplingParams(temperature=0, max_tokens=tokens)
    out: dict[str, Any] = {}
    for name, messages in workloads:
        off, on, drafted, accepted, same = [], [], 0, 0, True
        for _ in range(reps):
            t_off, [c_off] = await timed(plain, messages, params, 1)
            t_on, [c_on] = await timed(looking, messages, params, 1)
            off.append(c_off.completion_tokens / t_off.wall_s)
            on.append(c_on.completion_tokens / t_on.wall_s)
            assert c_on.spec_decode is not None
            drafted += c_on.spec_decode.draft_tokens
            accepted += c_on.spec_decode.accepted_tokens
            same &= c_off.text == c_on.text
        out[name] = {
            "off_tok_per_s": round(statistics.median(off), 2),
            "on_tok_per_s": round(statistics.median(on), 2),
            "speedup": round(statistics.median(b / a for a, b in zip(off, on, strict=True)), 3),
            "draft_tokens": drafted,
            "accepted_tokens": accepted,
            "acceptance_rate": round(accepted / drafted, 3) if drafted else 0.0,
            "identical_greedy_text": same,
        }
        console.print(f"lookup {name}: {out[name]}")
    return out


async def judge_calls(engine: LlamaCppEngine, index: int) -> None:
    """The judge's four calls for N=3 (pairs 0-1 and 0-2 or 1-2, both orders) on one GSM8K problem."""
    problem = load_dataset("gsm8k_test", limit=index + 1)[index]
    worked = problem.meta["solution"]
    candidates = [f"{worked}\n\\boxed{{{problem.answer}}}", f"{worked}\n\\boxed{{{int(problem.answer) + 1}}}",
                  f"The answer is \\boxed{{{problem.answer}}}."]
    params = SamplingParams(temperature=0, max_tokens=48)
    for a, b in ((0, 1), (1, 0), (0, 2), (2, 0)):
        await engine.generate(judge_messages(problem.prompt, candidates[a], candidates[b]), params)


async def streamed_candidates(engine: LlamaCppEngine, index: int, tokens: int) -> None:
    """Three candidates streamed as separate requests, as the pipeline does when it watches for an early majority."""
    params = SamplingParams(temperature=1.0, top_p=0.95, max_tokens=tokens, seed=index)

    async def drain(seed: int) -> None:
        async for _ in engine.stream(problem_messages(index), params.with_seed(seed)):
            pass

    await asyncio.gather(*(drain(index + i) for i in range(3)))


async def prefix_reuse(reusing: LlamaCppEngine, fresh: LlamaCppEngine, args: argparse.Namespace) -> dict[str, Any]:
    """Prompt tokens decoded and reused, and wall time, with prefix reuse on and off, interleaved per problem."""
    workloads = {"judge_4_calls": lambda e, i: judge_calls(e, i),
                 "3_streamed_candidates": lambda e, i: streamed_candidates(e, i, args.stream_tokens)}
    out: dict[str, Any] = {}
    for name, work in workloads.items():
        walls: dict[str, list[float]] = {"on": [], "off": []}
        before = reusing.prefill_tokens
        for i in range(1, args.reps + 1):
            for label, engine in (("on", reusing), ("off", fresh)):
                start = time.perf_counter()
                await work(engine, i)
                walls[label].append(time.perf_counter() - start)
        decoded, reused = (now - then for now, then in zip(reusing.prefill_tokens, before, strict=True))
        out[name] = {
            "prompt_tokens": decoded + reused,
            "prompt_tokens_reused": reused,
            "prefill_saved": round(reused / (decoded + reused), 3),
            "wall_s_on": round(statistics.median(walls["on"]), 3),
            "wall_s_off": round(statistics.median(walls["off"]), 3),
            "speedup": round(statistics.median(off / on for on, off in zip(walls["on"], walls["off"], strict=True)), 3),
        }
        console.print(f"prefix reuse {name}: {out[name]}")
    return out


async def run(args: argparse.Namespace, cache_dir: Path) -> dict[str, Any]:
    plain = make_engine(args.model_path, cache_dir)
    looking = make_engine(args.model_path, cache_dir, prompt_lookup=True)
    await plain.load()
    await looking.load()  # the same process-wide model as ``plain``, its own context
    await plain.generate(problem_messages(0), SamplingParams(temperature=0, max_tokens=8))  # warm-up
    split_rows = plain._runtime.split_rows  # the sequence counts the engine decodes one call per sequence
    floor = DecodeFloor(plain._runtime.model, plain._cfg, split_rows)
    batched = DecodeFloor(plain._runtime.model, plain._cfg)
    for replay in (floor, batched):  # each holds the prompt, as the warmed engine does
        replay.replay(plain._runtime.prompt(problem_messages(0)), [1])
    try:
        runs = await batching(plain, floor, batched, args)
    finally:
        floor.close()
        batched.close()
    reasoning = [(f"gsm8k_{i}", problem_messages(i)) for i in range(args.lookup_problems)]
    lookups = await lookup(plain, looking, [*reasoning, ("copy_code", COPY_PROMPT)], args.lookup_tokens, args.reps)
    await looking.close()
    fresh = make_engine(args.model_path, cache_dir, prefix_reuse=False)
    prefixes = await prefix_reuse(plain, fresh, args)
    await plain.close()
    await fresh.close()
    reasoning_speedups = [lookups[name]["speedup"] for name, _ in reasoning]
    return {
        "figures": {
            **batching_figures(runs),
            "decode_rows_split": ",".join(map(str, sorted(split_rows))) or "none",
            "lookup_reasoning_speedup": round(statistics.median(reasoning_speedups), 3),
            "lookup_reasoning_acceptance": round(
                sum(lookups[n]["accepted_tokens"] for n, _ in reasoning)
                / max(1, sum(lookups[n]["draft_tokens"] for n, _ in reasoning)), 3),
            "lookup_copy_speedup": lookups["copy_code"]["speedup"],
            "lookup_copy_acceptance": lookups["copy_code"]["acceptance_rate"],
            **{f"prefix_{name}_{key}": value for name, figures in prefixes.items()
               for key, value in figures.items() if key in {"prefill_saved", "speedup"}},
            "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        },
        "lookup": lookups,
        "prefix_reuse": prefixes,
        "runs": runs,
    }


def machine() -> dict[str, Any]:
    """What the figures were measured on, with the load average (the CPU may be shared)."""
    cpu = platform.processor()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        lines = cpuinfo.read_text().splitlines()
        names = [line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")]
        cpu = names[0] if names else cpu
    return {
        "platform": platform.platform(),
        "cpu": cpu,
        "cores": len(os.sched_getaffinity(0)),
        "load_avg_1m": round(os.getloadavg()[0], 2),
        "python": platform.python_version(),
        "llama_cpp_python": llama_cpp.__version__,
    }


def write_result(name: str, workload: str, settings: dict[str, Any], body: dict[str, Any],
                 before: dict[str, Any]) -> Path:
    """``bench/results/<name>.json`` with the date and the machine (load before and after the run)."""
    after = machine()
    result = {"name": name, "workload": workload, "settings": settings, **body,
              "date": datetime.now(UTC).isoformat(timespec="seconds"),
              "machine": {**after, "load_avg_1m_before": before["load_avg_1m"]}}
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"{name}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    for key, value in body.get("figures", {}).items():
        console.print(f"{key}: {value}")
    console.print(f"wrote {out}")
    return out


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--sample-tokens", type=int, default=128)
    parser.add_argument("--lookup-tokens", type=int, default=256)
    parser.add_argument("--lookup-problems", type=int, default=3)
    parser.add_argument("--stream-tokens", type=int, default=32)
    parser.add_argument("--model-path", default=None, help="a GGUF other than the prepared default")
    args = parser.parse_args(argv)
    before = machine()
    settings = Settings()
    body = asyncio.run(run(args, settings.cache_dir))
    embedded = settings.solver.embedded.model_copy(update={"model_path": args.model_path})
    workload = (
        f"embedded {args.model_path or 'Qwen2.5-Coder-0.5B-Instruct Q4_K_M'}, {decode_threads(embedded)} decode "
        f"thread(s); batching: GSM8K problem 0, temperature 1.0, top-p 0.95, {args.sample_tokens} tokens, n=1, "
        f"n=3, 3 x n=1, each against its replayed llama_decode floor (the engine's decode calls: one per sequence "
        f"for {body['figures']['decode_rows_split']} live sequences), n=3 also against one batched call per step; "
        f"prompt lookup: {args.lookup_problems} GSM8K "
        f"problems and a code rewrite, greedy, {args.lookup_tokens} tokens; prefix reuse: 4 judge calls (48 "
        f"tokens) and 3 streamed candidates ({args.stream_tokens} tokens) per GSM8K problem; {args.reps} interleaved "
        "reps, medians"
    )
    write_result("engine", workload, {**embedded.model_dump(), "reps": args.reps}, body, before)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
