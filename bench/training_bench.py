"""Local training precision (not a test): one SFT forward+backward and one batch of rollouts on the embedded
Qwen2.5-Coder-0.5B-Instruct with LoRA, fp32 against bf16 mixed precision (``local.precision``), interleaved.

- SFT step: ``--batch`` sequences of ``--tokens`` random tokens, the loss on all but the first ``--prompt``;
  seconds for forward+backward and the loss each precision computes on the same batch.
- Rollouts: the rollout actor's ``generate`` (n=4 per prompt, two prompts of ``--prompt`` tokens,
  ``--gen-tokens`` new tokens, seeded), tokens/s.
Writes ``bench/results/training.json``.

    python -m bench.training_bench [--reps 2] [--threads 1]
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

from bench.engine_bench import console, machine, write_result
from k2core.training.precision import Resolved

PRECISIONS: tuple[Resolved, ...] = ("fp32", "bf16")


def sft_step(model_dir: Any, precision: Resolved, args: argparse.Namespace) -> dict[str, float]:
    """Seconds of one forward+backward and its loss."""
    import torch

    from k2core.training import precision as mixed
    from k2core.training.config import LoraConfig
    from k2core.training.hf_model import load_policy
    from k2core.training.local_sft import sft_loss

    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(100, 20000, (args.batch, args.tokens), generator=generator)
    attention = torch.ones_like(ids)
    loss_mask = attention.clone()
    loss_mask[:, : args.prompt] = 0
    model = load_policy(model_dir, LoraConfig(rank=16, alpha=32), precision)
    began = time.perf_counter()
    with mixed.compute(precision):
        loss = sft_loss(model, ids, attention, loss_mask)
    loss.backward()
    return {"seconds": time.perf_counter() - began, "loss": loss.item()}


def rollouts(model_dir: Any, precision: Resolved, args: argparse.Namespace) -> dict[str, float]:
    """Tokens/s of one batch of sampled responses."""
    from k2core.training.config import LoraConfig
    from k2core.training.rollout import RolloutWorker

    worker = RolloutWorker(str(model_dir), LoraConfig(rank=16, alpha=32).model_dump(), args.threads, [], 0, precision)
    prompt = list(range(1000, 1000 + args.prompt))
    began = time.perf_counter()
    out = worker.generate([prompt, prompt], n=4, max_new_tokens=args.gen_tokens, temperature=1.0, top_p=1.0, seed=0)
    tokens = sum(len(r) for r in out)
    return {"tokens": tokens, "tok_per_s": tokens / (time.perf_counter() - began)}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--tokens", type=int, default=256)
    parser.add_argument("--prompt", type=int, default=100)
    parser.add_argument("--gen-tokens", type=int, default=48)
    args = parser.parse_args(argv)
    import torch

    from k2core.config import Settings
    from k2core.training.hf_model import ensure_hf_model
    from k2core.training.precision import native_bf16

    torch.set_num_threads(args.threads)
    before = machine()
    model_dir = ensure_hf_model(Settings())
    runs: dict[str, dict[str, list[dict[str, float]]]] = {p: {"sft": [], "rollout": []} for p in PRECISIONS}
    with console.status("training precision") as status:
        for rep in range(args.reps):
            for precision in PRECISIONS:
                status.update(f"rep {rep + 1}/{args.reps}: {precision} SFT step")
                runs[precision]["sft"].append(sft_step(model_dir, precision, args))
                status.update(f"rep {rep + 1}/{args.reps}: {precision} rollouts")
                runs[precision]["rollout"].append(rollouts(model_dir, precision, args))
    sft_s = {p: statistics.median(r["seconds"] for r in runs[p]["sft"]) for p in PRECISIONS}
    tok_s = {p: statistics.median(r["tok_per_s"] for r in runs[p]["rollout"]) for p in PRECISIONS}
    loss = {p: runs[p]["sft"][0]["loss"] for p in PRECISIONS}
    figures = {
        "native bf16": native_bf16(),
        "sft step fp32 s": round(sft_s["fp32"], 2),
        "sft step bf16 s": round(sft_s["bf16"], 2),
        "sft step bf16 speedup": round(sft_s["fp32"] / sft_s["bf16"], 2),
        "sft loss bf16 relative difference": round(abs(loss["bf16"] - loss["fp32"]) / loss["fp32"], 5),
        "rollout fp32 tok/s": round(tok_s["fp32"], 2),
        "rollout bf16 tok/s": round(tok_s["bf16"], 2),
        "rollout bf16 speedup": round(tok_s["bf16"] / tok_s["fp32"], 2),
    }
    workload = (
        f"embedded Qwen2.5-Coder-0.5B-Instruct with LoRA rank 16, {args.threads} thread(s): one SFT forward+backward "
        f"of {args.batch}x{args.tokens} random tokens (loss on all but the first {args.prompt}), and the rollout "
        f"actor sampling 4 responses to each of 2 prompts of {args.prompt} tokens, {args.gen_tokens} new tokens; "
        f"fp32 vs bf16 mixed precision interleaved, {args.reps} reps, medians"
    )
    settings = {k: getattr(args, k) for k in ("reps", "threads", "batch", "tokens", "prompt", "gen_tokens")}
    write_result("training", workload, settings, {"figures": figures, "runs": runs}, before)
    return 0
