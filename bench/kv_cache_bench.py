"""KV cache benchmark (not a test): the embedded engine's cache in f16 against q8_0 (with flash attention).

Memory: the resident growth of one process when it creates the solver's context (``max_sequences`` slots of
``n_ctx`` cells; llama.cpp clears the whole cache, so every page is touched), per cache type. Speed: per cache type,
``generate(n=1)`` and ``generate(n=3)`` on a GSM8K problem (temperature 1.0, top-p 0.95, ``--sample-tokens`` tokens,
fixed seeds), the cache types interleaved within every rep, medians. Accuracy: the seeded GSM8K test subset (seed
0) through ``k2think eval`` (greedy, ``--max-tokens``, no plan, no judge, one candidate) per cache type, resumed from
``--eval-dir/eval-<type>`` when a run is there (``--f16-dir`` points at an existing f16 run of the same settings,
e.g. the quantisation bench's Q4_K_M run); q8_0 minus f16 per problem with a paired bootstrap interval.
Writes ``bench/results/kv_cache.json``.

    python -m bench.kv_cache_bench [--reps 3] [--sample-tokens 128] [--gsm8k 200] [--eval-dir DIR] [--f16-dir DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

from llama_cpp import _internals as llama_internals

from bench.engine_bench import console, machine, make_engine, problem_messages, timed, write_result
from bench.quant_bench import greedy_gsm8k, paired_to_base
from k2core.config import EmbeddedSettings, Settings
from k2core.engines.llamacpp import LlamaCppEngine, context_params
from k2core.types import SamplingParams

KINDS = ("f16", "q8_0")
ROLES = ("SOLVER", "PLANNER", "JUDGE")


def resident_mib() -> float:
    """This process's resident set in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def cache_mib(engine: LlamaCppEngine, kind: str, slots: int) -> float:
    """Resident growth of creating a context of ``slots`` sequence slots with a ``kind`` cache (the model loaded)."""
    runtime = engine._runtime
    assert runtime is not None
    cfg: EmbeddedSettings = engine._cfg.model_copy(update={"kv_cache_type": kind, "max_sequences": slots})
    gc.collect()
    before = resident_mib()
    ctx = llama_internals.LlamaContext(model=runtime.model, params=context_params(cfg), verbose=False)
    grown = resident_mib() - before
    ctx.close()
    return round(grown, 1)


async def speed(cache_dir: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Per cache type: n=1 and n=3 tokens/s; and the memory of a context per type."""
    engines = {kind: make_engine(None, cache_dir, kv_cache_type=kind) for kind in KINDS}
    messages = problem_messages(0)
    runs: dict[str, list[dict[str, Any]]] = {kind: [] for kind in KINDS}
    for engine in engines.values():
        await engine.load()
        await engine.generate(messages, SamplingParams(temperature=0, max_tokens=4))  # warm-up
    slots = engines["f16"]._cfg.max_sequences
    memory = {kind: cache_mib(engines["f16"], kind, slots) for kind in KINDS}
    console.print(f"context of {slots} slots x {engines['f16']._cfg.n_ctx} cells: {memory} MiB resident")
    try:
        for rep in range(args.reps):
            params = SamplingParams(temperature=1.0, top_p=0.95, max_tokens=args.sample_tokens, seed=3000 + 10 * rep)
            for kind, engine in engines.items():
                run = {}
                for n in (1, 3):
                    timing, completions = await timed(engine, messages, params, n)
                    run[f"n{n}"] = {"wall_s": timing.wall_s, "tokens": sum(c.completion_tokens for c in completions)}
                runs[kind].append(run)
                console.print(f"rep {rep} {kind}: " + ", ".join(
                    f"{k} {v['tokens'] / v['wall_s']:.1f} tok/s" for k, v in run.items()))
    finally:
        for engine in engines.values():
            await engine.close()
    out = {}
    for kind, reps in runs.items():
        figures = {f"{n}_tok_per_s": round(statistics.median(r[n]["tokens"] / r[n]["wall_s"] for r in reps), 2)
                   for n in ("n1", "n3")}
        figures["context_mib"] = memory[kind]
        out[kind] = {"figures": figures, "runs": reps}
    out["context"] = {"slots": slots, "n_ctx": engines["f16"]._cfg.n_ctx}
    return out


def accuracy(kind: str, args: argparse.Namespace, out: Path) -> dict[str, Any]:
    """GSM8K accuracy with a ``kind`` cache in every role (resumed in ``out``)."""
    env = {f"K2_{role}__EMBEDDED__KV_CACHE_TYPE": kind for role in ROLES}
    return {**greedy_gsm8k(out, env, args.gsm8k, args.max_tokens), "folder": str(out)}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--sample-tokens", type=int, default=128)
    parser.add_argument("--gsm8k", type=int, default=200, help="GSM8K problems per cache type (0: skip)")
    parser.add_argument("--max-tokens", type=int, default=384)
    parser.add_argument("--eval-dir", type=Path, default=None, help="where eval runs are kept and resumed")
    parser.add_argument("--f16-dir", type=Path, default=None, help="an existing f16 run of the same eval settings")
    args = parser.parse_args(argv)
    before = machine()
    result = asyncio.run(speed(Settings().cache_dir, args))
    paired: dict[str, Any] = {}
    if args.gsm8k:
        with tempfile.TemporaryDirectory() as scratch:
            eval_dir = args.eval_dir or Path(scratch)
            folders = {kind: eval_dir / f"eval-{kind}" for kind in KINDS}
            if args.f16_dir is not None:
                folders["f16"] = args.f16_dir
            for kind in KINDS:
                result[kind]["accuracy"] = accuracy(kind, args, folders[kind])
            paired = paired_to_base(folders, base="f16")["q8_0"]
    figures: dict[str, Any] = {}
    for kind in KINDS:
        figures |= {f"{kind} {key}": value for key, value in result[kind]["figures"].items()}
        if "accuracy" in result[kind]:
            figures[f"{kind} gsm8k accuracy"] = result[kind]["accuracy"]["accuracy"]
    figures["q8_0 / f16 context memory"] = round(figures["q8_0 context_mib"] / figures["f16 context_mib"], 3)
    figures["q8_0 / f16 n3 tokens/s"] = round(figures["q8_0 n3_tok_per_s"] / figures["f16 n3_tok_per_s"], 3)
    if paired:
        figures["q8_0 - f16 gsm8k (paired 95% CI)"] = (
            f"{paired['difference']:+.3f} [{paired['ci95'][0]:+.3f}, {paired['ci95'][1]:+.3f}]")
    context = result.pop("context")
    workload = (
        f"the embedded engine's KV cache in f16 and in q8_0 (flash attention on): resident growth of creating the "
        f"solver's context ({context['slots']} slots x {context['n_ctx']} cells); GSM8K problem 0, temperature 1.0, "
        f"top-p 0.95, {args.sample_tokens} tokens, n=1 and n=3, {args.reps} reps interleaved, medians; accuracy: the "
        f"seeded subset of {args.gsm8k} GSM8K test problems (seed 0), greedy, {args.max_tokens} tokens, no plan, no "
        "judge, one candidate, q8_0 minus f16 paired"
    )
    body = {"figures": figures, "kinds": result, "paired_q8_0_to_f16": paired}
    write_result("kv_cache", workload, {"reps": args.reps, "gsm8k": args.gsm8k}, body, before)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
