"""Quantisation benchmark (not a test): the shipped Q4_K_M against Q4_0 and Q8_0 made from it at ``make model`` time.

Speed: per variant, ``generate(n=1)`` and ``generate(n=3)`` on a GSM8K problem (temperature 1.0, top-p 0.95,
``--sample-tokens`` tokens, fixed seeds) and the replayed bare ``llama_decode`` floor of each, the variants
interleaved within every rep, medians. Accuracy: the seeded GSM8K test subset of the reasoning evaluation
(``--gsm8k`` problems drawn with seed 0, the subset the selection study uses) through ``k2think eval`` (greedy,
``--max-tokens``, no plan, no judge, one candidate) per variant, resumed from ``--eval-dir/eval-<variant>`` when a
run is there; each requantised variant's per-problem difference to Q4_K_M with a paired bootstrap interval. Every
variant runs with an f16 KV cache (``bench.kv_cache_bench`` measures the cache type).
``--skip-speed`` keeps the speed figures of the last result file (accuracy runs can go while the box is busy).
Writes ``bench/results/quant.json``.

    python -m bench.quant_bench [--reps 2] [--sample-tokens 128] [--gsm8k 200] [--eval-dir DIR] [--skip-speed]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.decode_floor import DecodeFloor, steps_of
from bench.engine_bench import console, machine, make_engine, problem_messages, timed, write_result
from bench.paths import RESULTS
from k2core.config import Settings
from k2core.engines.llamacpp import LlamaCppEngine
from k2core.eval.compare import compare, load_evaluation
from k2core.models import QUANTISATIONS, prepare_model, quantised_model
from k2core.types import SamplingParams

VARIANTS = ("q4_k_m", *QUANTISATIONS)
KV_CACHE = "f16"  # the weights are compared with the cache they were first measured with (docs/eval/quant-gsm8k)


def variant_path(cache_dir: Path, variant: str) -> Path:
    return prepare_model(cache_dir) if variant == "q4_k_m" else quantised_model(cache_dir, variant)


async def speed(cache_dir: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Per variant: n=1 and n=3 tokens/s and each against its decode floor."""
    engines: dict[str, LlamaCppEngine] = {
        v: make_engine(str(variant_path(cache_dir, v)), cache_dir, kv_cache_type=KV_CACHE) for v in VARIANTS
    }
    messages = problem_messages(0)
    runs: dict[str, list[dict[str, Any]]] = {v: [] for v in VARIANTS}
    floors: dict[str, DecodeFloor] = {}
    for variant, engine in engines.items():
        await engine.load()
        await engine.generate(messages, SamplingParams(temperature=0, max_tokens=4))  # warm-up
        floors[variant] = DecodeFloor(engine._runtime.model, engine._cfg)
        floors[variant].replay(engine._runtime.prompt(messages), [1])  # holds the prompt, as the warmed engine does
    try:
        for rep in range(args.reps):
            params = SamplingParams(temperature=1.0, top_p=0.95, max_tokens=args.sample_tokens, seed=2000 + 10 * rep)
            for variant, engine in engines.items():
                prompt = engine._runtime.prompt(messages)
                run: dict[str, Any] = {}
                for n in (1, 3):
                    decoded = engine.prefill_tokens[0]
                    timing, completions = await timed(engine, messages, params, n)
                    reused = len(prompt) - (engine.prefill_tokens[0] - decoded)
                    floor = await asyncio.to_thread(floors[variant].replay, prompt, [steps_of(c) for c in completions],
                                                    reused)
                    run[f"n{n}"] = {"wall_s": timing.wall_s, "cpu_s": timing.cpu_s, "decode_s": timing.decode_s,
                                    "floor_wall_s": floor.wall_s,
                                    "floor_cpu_s": floor.cpu_s, "tokens": sum(c.completion_tokens for c in completions)}
                runs[variant].append(run)
                rates = [f"{k} {v['tokens'] / v['wall_s']:.1f} tok/s (floor {v['floor_wall_s']:.2f}s)"
                         for k, v in run.items()]
                console.print(f"rep {rep} {variant}: " + ", ".join(rates))
    finally:
        for variant, engine in engines.items():
            floors[variant].close()
            await engine.close()
    out = {}
    for variant, reps in runs.items():
        figures: dict[str, Any] = {}
        for n in ("n1", "n3"):
            figures[f"{n}_tok_per_s"] = round(statistics.median(r[n]["tokens"] / r[n]["wall_s"] for r in reps), 2)
            figures[f"{n}_tok_per_cpu_s"] = round(statistics.median(r[n]["tokens"] / r[n]["cpu_s"] for r in reps), 2)
            over = [r[n]["wall_s"] / r[n]["floor_wall_s"] for r in reps]
            figures[f"{n}_over_floor_wall"] = round(statistics.median(over), 3)
        figures["n3_overhead"] = round(statistics.median(
            (r["n3"]["wall_s"] - r["n3"]["decode_s"]) / r["n3"]["decode_s"] for r in reps), 4)
        figures["n3_over_n1_wall"] = round(statistics.median(r["n3"]["wall_s"] / r["n1"]["wall_s"] for r in reps), 3)
        figures["file_mib"] = round(variant_path(cache_dir, variant).stat().st_size / 2**20, 1)
        out[variant] = {"figures": figures, "runs": reps}
    return out


def greedy_gsm8k(out: Path, settings_env: dict[str, str], problems: int, max_tokens: int) -> dict[str, Any]:
    """Greedy accuracy on the seeded GSM8K test subset (no plan, no judge, one candidate) through ``k2think eval``
    with ``settings_env`` over the environment, resumed from an earlier run in ``out``."""
    command = [sys.executable, "-m", "services.cli", "eval", "--dataset", "gsm8k_test", "--sample", str(problems),
               "--seed", "0", "--n", "1", "--no-plan", "--no-judge", "--temperature", "0", "--max-tokens",
               str(max_tokens), "--concurrency", "3", "--out", str(out), "--json"]
    subprocess.run(command, env={**os.environ, **settings_env}, check=True, stdout=subprocess.DEVNULL)
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines() if line.strip()]
    scores = load_evaluation(out).scores  # one greedy run per problem: each score is 0 or 1
    correct = sum(score == 1.0 for score in scores.values())
    return {"problems": len(scores), "correct": correct, "accuracy": round(correct / len(scores), 3),
            "completion_tokens": sum(row["response_tokens"] for row in rows),
            "per_problem": {problem: score == 1.0 for problem, score in scores.items()}}


def accuracy(variant: str, args: argparse.Namespace, eval_dir: Path) -> dict[str, Any]:
    """GSM8K accuracy of one variant (every role on it, with the f16 cache) in ``eval_dir/eval-<variant>``."""
    env = {f"K2_{role}__EMBEDDED__{key}": value for role in ("SOLVER", "PLANNER", "JUDGE")
           for key, value in (("QUANTISATION", variant), ("KV_CACHE_TYPE", KV_CACHE))}
    return greedy_gsm8k(eval_dir / f"eval-{variant}", env, args.gsm8k, args.max_tokens)


def paired_to_base(folders: dict[str, Path], base: str = "q4_k_m") -> dict[str, Any]:
    """Each variant's accuracy minus ``base``'s over the problems both answered, with a paired 95% bootstrap CI
    (``k2think compare`` on the two evaluation folders)."""
    reference = load_evaluation(folders[base])
    out = {}
    for variant, folder in folders.items():
        if variant == base:
            continue
        paired = compare(reference, load_evaluation(folder))
        out[variant] = {"problems": paired["problems"], "difference": round(paired["gain"], 3),
                        "ci95": [round(x, 3) for x in paired["gain_ci95"]],
                        "better": paired["better"], "worse": paired["worse"]}
    return out


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=2)
    parser.add_argument("--sample-tokens", type=int, default=128)
    parser.add_argument("--gsm8k", type=int, default=200, help="GSM8K problems per variant for accuracy (0: skip)")
    parser.add_argument("--skip-speed", action="store_true", help="keep the speed figures of the last result file")
    parser.add_argument("--max-tokens", type=int, default=384)
    parser.add_argument("--eval-dir", type=Path, default=None, help="where eval runs are kept and resumed")
    args = parser.parse_args(argv)
    before = machine()
    settings = Settings()
    if args.skip_speed:
        last = json.loads((RESULTS / "quant.json").read_text())
        variants = {v: {"figures": last["variants"][v]["figures"], "runs": last["variants"][v]["runs"]} for v in VARIANTS}
        before, speed_date = last["machine"], last.get("speed_date", last["date"])
    else:
        variants, speed_date = asyncio.run(speed(settings.cache_dir, args)), None
    if args.gsm8k:
        with tempfile.TemporaryDirectory() as scratch:
            eval_dir = args.eval_dir or Path(scratch)
            for variant in VARIANTS:
                variants[variant]["accuracy"] = accuracy(variant, args, eval_dir)
            paired = paired_to_base({variant: eval_dir / f"eval-{variant}" for variant in VARIANTS})
    else:
        paired = {}
    figures: dict[str, Any] = {}
    for variant, result in variants.items():
        figures.update({f"{variant} {key}": value for key, value in result["figures"].items()
                        if key in {"n1_tok_per_s", "n3_tok_per_s", "n3_over_n1_wall", "file_mib"}})
        if "accuracy" in result:
            figures[f"{variant} gsm8k accuracy"] = result["accuracy"]["accuracy"]
    for variant, diff in paired.items():
        figures[f"{variant} - q4_k_m gsm8k (paired 95% CI)"] = f"{diff['difference']:+.3f} [{diff['ci95'][0]:+.3f}, {diff['ci95'][1]:+.3f}]"
    fastest = max(VARIANTS, key=lambda v: variants[v]["figures"]["n3_tok_per_s"])
    workload = (
        f"Qwen2.5-Coder-0.5B-Instruct as shipped (Q4_K_M) and requantised by llama.cpp to Q4_0 and Q8_0; speed: GSM8K "
        f"problem 0, temperature 1.0, top-p 0.95, {args.sample_tokens} tokens, n=1 and n=3, {args.reps} reps with the "
        f"variants interleaved, medians; accuracy: the seeded subset of {args.gsm8k} GSM8K test problems (seed 0), "
        f"greedy, {args.max_tokens} tokens, no plan, no judge, one candidate; paired differences to Q4_K_M"
    )
    body = {"figures": {**figures, "fastest_n3": fastest}, "variants": variants, "paired_to_q4_k_m": paired}
    if speed_date is not None:
        body["speed_date"] = speed_date  # the speed figures come from this earlier run
        workload += f" (speed figures from the run of {speed_date})"
    write_result("quant", workload, {"reps": args.reps, "gsm8k": args.gsm8k}, body, before)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
