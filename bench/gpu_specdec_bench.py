"""vLLM speculative decoding on a GPU: tokens/s, acceptance rate and identical greedy answers (not a test).

Runs the ``vllm`` engine (``[gpu]`` extra) on a small model with speculation off, ``ngram`` (prompt lookup) and,
when ``--eagle-model`` names a draft head, ``eagle``; greedy decoding of ``--prompts`` code-rewrite and
arithmetic prompts, ``--max-tokens`` each, one engine per variant (GPU memory freed between them).
Figures per variant: output tokens/s, draft and accepted tokens, acceptance rate, and whether every greedy
text equals the no-speculation text. Without CUDA or vLLM it records why and exits 0 (``make bench`` on a
CPU machine). Writes ``bench/results/gpu_specdec.json``.

    python -m bench.gpu_specdec_bench [--model Qwen/Qwen2.5-0.5B-Instruct] [--eagle-model PATH] [--max-tokens 256]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib.util
import json
import platform
import sys
import time
from datetime import datetime, timezone
from typing import Any

from rich.console import Console

from bench.paths import RESULTS
from k2core.config import EngineSettings
from k2core.types import Message, SamplingParams

console = Console(stderr=True)
CODE = "def add(a, b):\n    return a + b\n\n\ndef scale(values, k):\n    return [v * k for v in values]\n"
PROMPTS = (
    f"Rewrite this Python code with type hints and docstrings, keeping the logic:\n\n{CODE}",
    f"Repeat this code exactly, then explain it in one sentence:\n\n{CODE}",
    "What is 17 * 23? Reason step by step, then put the final answer in \\boxed{}.",
    "List the first twelve prime numbers, one per line.",
)


def cuda_reason() -> str | None:
    """Why the bench cannot run here, or None when vLLM and a CUDA device are present."""
    if importlib.util.find_spec("vllm") is None:
        return "vllm is not installed (the [gpu] extra)"
    import torch

    if not torch.cuda.is_available():
        return "no CUDA device"
    return None


def variant_settings(model: str, method: str | None, eagle_model: str | None, max_len: int) -> EngineSettings:
    """Engine settings of one variant: the same model and limits, speculation per ``method``."""
    settings = EngineSettings(engine="vllm", model=model)
    settings.vllm.max_model_len = max_len
    settings.vllm.engine_kwargs = {"gpu_memory_utilization": 0.5}
    spec = settings.vllm.speculative
    spec.method = method  # type: ignore[assignment]
    if method == "ngram":
        spec.num_speculative_tokens, spec.prompt_lookup_min, spec.prompt_lookup_max = 4, 2, 5
    if method == "eagle":
        spec.num_speculative_tokens, spec.model = 3, eagle_model
    return settings


async def run_variant(settings: EngineSettings, max_tokens: int) -> dict[str, Any]:
    """Greedy texts of every prompt, output tokens/s and the speculative counters."""
    from k2core.engines.vllm import VllmEngine

    engine = VllmEngine(settings)
    await engine.load()
    params = SamplingParams(temperature=0.0, top_p=1.0, max_tokens=max_tokens)
    await engine.generate([Message(role="user", content="Hi")], params.model_copy(update={"max_tokens": 8}))  # warm-up
    texts, tokens, draft, accepted = [], 0, 0, 0
    start = time.perf_counter()
    for prompt in PROMPTS:
        [completion] = await engine.generate([Message(role="user", content=prompt)], params)
        texts.append(completion.text)
        tokens += completion.completion_tokens
        if completion.spec_decode is not None:
            draft += completion.spec_decode.draft_tokens
            accepted += completion.spec_decode.accepted_tokens
    seconds = time.perf_counter() - start
    await engine.close()
    return {
        "tokens_per_s": tokens / seconds,
        "output_tokens": tokens,
        "seconds": seconds,
        "draft_tokens": draft,
        "accepted_tokens": accepted,
        "acceptance_rate": accepted / draft if draft else None,
        "texts": texts,
    }


async def run_all(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """Every variant in turn (one engine on the GPU at a time)."""
    methods: list[str | None] = [None, "ngram"] + (["eagle"] if args.eagle_model else [])
    rows: dict[str, dict[str, Any]] = {}
    for method in methods:
        name = method or "off"
        console.print(f"variant {name}")
        rows[name] = await run_variant(variant_settings(args.model, method, args.eagle_model, args.max_len), args.max_tokens)
        gc.collect()
    for row in rows.values():
        row["identical_greedy"] = row["texts"] == rows["off"]["texts"]
        row["speedup_vs_off"] = row["tokens_per_s"] / rows["off"]["tokens_per_s"]
    return rows


def document(args: argparse.Namespace, rows: dict[str, dict[str, Any]], skipped: str | None) -> dict[str, Any]:
    """The results JSON (flat figures, per-variant rows without the texts, device and date)."""
    figures: dict[str, Any] = {}
    for name, row in rows.items():
        figures |= {f"{name} tok/s": row["tokens_per_s"], f"{name} acceptance": row["acceptance_rate"]}
        figures |= {f"{name} identical greedy": row["identical_greedy"], f"{name} speedup": row["speedup_vs_off"]}
    device = None
    if skipped is None:
        import torch

        device = torch.cuda.get_device_name(0)
    return {
        "name": "gpu_specdec",
        "workload": f"{len(PROMPTS)} greedy prompts x {args.max_tokens} tokens on {args.model}",
        "skipped": skipped,
        "figures": figures,
        "variants": {name: {k: v for k, v in row.items() if k != "texts"} for name, row in rows.items()},
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {"platform": platform.platform(), "device": device},
    }


def main(argv: list[str]) -> int:
    """Run the variants (or record why not) and write ``bench/results/gpu_specdec.json``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="Qwen/Qwen2.5-0.5B-Instruct")
    parser.add_argument("--eagle-model", default=None, help="an EAGLE draft head for --model (local path or id)")
    parser.add_argument("--max-tokens", type=int, default=256)
    parser.add_argument("--max-len", type=int, default=4096)
    args = parser.parse_args(argv)
    skipped = cuda_reason()
    rows = {} if skipped else asyncio.run(run_all(args))
    if skipped:
        console.print(f"gpu_specdec skipped: {skipped}", markup=False)
    RESULTS.mkdir(parents=True, exist_ok=True)
    doc = document(args, rows, skipped)
    (RESULTS / "gpu_specdec.json").write_text(json.dumps(doc, indent=2))
    console.print_json(json.dumps(doc["figures"]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
