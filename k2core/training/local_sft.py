"""SFT on this machine: AM-Thinking conversations, loss on assistant tokens only, LoRA by default; the result is
merged into an HF folder ``<out>/hf`` that RLVR starts from."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch
from rich.console import Console

from k2core.config import Settings
from k2core.data import data_dir, load_dataset
from k2core.data.decontam import decontaminate
from k2core.training.chat import Message, sft_ids_and_mask
from k2core.training.config import HF_DIR, TrainConfig
from k2core.training.export import save_hf
from k2core.training.forward import next_token_logits
from k2core.training.hf_model import load_policy, load_tokenizer, resolve_model_dir
from k2core.training.local_run import LocalRun, seed_everything, take
from k2core.training.metrics import thirds
from k2core.training.precision import compute
from k2core.training.sft_data import clean_traces, read_traces, worked_solution

CURVE_KEYS = ("loss", "tokens_per_s")


def right_pad(rows: list[tuple[list[int], list[int]]], pad_id: int) -> tuple[torch.Tensor, ...]:
    """Ids, attention mask and loss mask of a right-padded batch."""
    width = max(len(ids) for ids, _ in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    attention = torch.zeros((len(rows), width), dtype=torch.long)
    loss_mask = torch.zeros((len(rows), width), dtype=torch.long)
    for row, (tokens, mask) in enumerate(rows):
        ids[row, : len(tokens)] = torch.tensor(tokens)
        attention[row, : len(tokens)] = 1
        loss_mask[row, : len(mask)] = torch.tensor(mask)
    return ids, attention, loss_mask


def conversations(config: TrainConfig, data_dir: Path | None = None) -> list[list[Message]]:
    """The worked solutions of ``local.dataset`` (files from ``data_dir``, else the packaged data) and the verified
    traces of ``local.traces``, decontaminated."""
    local, drop = config.local, config.data.drop_overlaps
    found: list[list[Message]] = []
    if local.dataset:
        problems = decontaminate(
            local.dataset, load_dataset(local.dataset, local.limit, local.seed, data_dir), drop, data_dir
        )
        found += [worked_solution(p) for p in problems if p.meta.get("solution")]
    if local.traces:
        found += [row["messages"] for row in clean_traces(read_traces(Path(local.traces)), drop)]
    if not found:
        raise ValueError(f"local: no worked solutions in dataset {local.dataset!r} and no traces to train on")
    return found


def sft_loss(model: Any, ids: torch.Tensor, attention: torch.Tensor, loss_mask: torch.Tensor) -> torch.Tensor:
    """Mean negative log-likelihood of the assistant tokens (verl's log-prob function)."""
    from verl.utils.torch_functional import logprobs_from_logits

    logits, targets = next_token_logits(model, ids, attention, loss_mask)
    return -logprobs_from_logits(logits, targets).mean()


def run_local_sft(
    config: TrainConfig,
    settings: Settings,
    steps: int | None = None,
    out: Path | None = None,
    console: Console | None = None,
) -> dict[str, Any]:
    """Fine-tune on worked solutions and verified traces (model cache and data from ``settings``); resumes from the
    newest checkpoint; returns paths and the loss of the first and last thirds of the steps."""
    local = config.local
    console = console or Console(stderr=True)
    steps = steps or local.steps
    model_dir = resolve_model_dir(local.model, settings)
    run = LocalRun(config, model_dir, steps, Path(out or local.out), console)
    seed_everything(local.seed)
    torch.set_num_threads(local.threads)
    tokenizer = load_tokenizer(model_dir)
    found = conversations(config, data_dir(settings))
    examples = [sft_ids_and_mask(tokenizer, messages, local.max_length) for messages in found]
    model = load_policy(model_dir, local.lora, run.precision)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=local.lr)
    start, position = run.resume(model, optimizer)
    model.train()
    with run.progress("sft", start) as advance:
        for step in range(start + 1, steps + 1):
            began = time.perf_counter()
            chosen = take(len(examples), position, local.batch, local.seed)
            position += local.batch
            ids, attention, loss_mask = right_pad([examples[i] for i in chosen], tokenizer.pad_token_id)
            with compute(run.precision):
                loss = sft_loss(model, ids, attention, loss_mask)
            optimizer.zero_grad()
            loss.backward()
            grad_norm = torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimizer.step()
            seconds = time.perf_counter() - began
            record = {
                "loss": loss.item(),
                "grad_norm": float(grad_norm),
                "assistant_tokens": int(loss_mask.sum()),
                "tokens_per_s": int(attention.sum()) / seconds,
                "step_s": seconds,
            }
            run.end_step(step, record, model, optimizer, position)
            advance(f"loss {record['loss']:.3f}")
    summary = run.finish(CURVE_KEYS, f"SFT on {local.dataset or 'traces'}: {run.model_label}")
    first, last = thirds([r["loss"] for r in summary.pop("records")] or [0.0])
    del model, optimizer
    hf = save_hf(run.out, run.out / HF_DIR)  # what RLVR starts from (`local.model`), as the cluster's …/sft/hf
    return {"kind": "sft", "steps": steps, "resumed_from": start, "loss_first_third": first,
            "loss_last_third": last, "hf": str(hf), **summary}  # fmt: skip
