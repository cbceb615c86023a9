"""Rollouts: a worker holding a copy of the policy that samples ``n`` responses per prompt (run as a Ray actor)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from k2core.training.config import LoraConfig
from k2core.training.hf_model import load_policy, load_trainable_state
from k2core.training.precision import Resolved, torch_dtype


def left_pad(sequences: list[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A left-padded batch of token ids and its attention mask."""
    width = max(len(s) for s in sequences)
    ids = torch.full((len(sequences), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(sequences), width), dtype=torch.long)
    for row, seq in enumerate(sequences):
        ids[row, width - len(seq) :] = torch.tensor(seq, dtype=torch.long)
        mask[row, width - len(seq) :] = 1
    return ids, mask


def cut_at_stop(tokens: list[int], stop_ids: set[int]) -> list[int]:
    """Tokens up to and including the first stop token."""
    for index, token in enumerate(tokens):
        if token in stop_ids:
            return tokens[: index + 1]
    return tokens


class RolloutWorker:
    """Samples responses with the current policy weights, pushed by the trainer before each step."""

    def __init__(
        self,
        model_dir: str,
        lora: dict[str, Any],
        threads: int,
        stop_ids: list[int],
        pad_id: int,
        precision: Resolved = "fp32",
    ) -> None:
        torch.set_num_threads(threads)
        # Sampling needs no fp32 master weights: the whole copy, adapters too, is stored in ``precision``.
        self.model = load_policy(Path(model_dir), LoraConfig(**lora)).to(torch_dtype(precision))
        self.model.eval()
        self.stop_ids = stop_ids
        self.pad_id = pad_id

    def sync(self, state: dict[str, torch.Tensor]) -> None:
        """Load the trainer's current trainable weights."""
        load_trainable_state(self.model, state)

    @torch.no_grad()
    def generate(
        self, prompts: list[list[int]], n: int, max_new_tokens: int, temperature: float, top_p: float, seed: int
    ) -> list[list[int]]:
        """``n`` sampled responses per prompt (prompt-major order), each cut after its first stop token."""
        torch.manual_seed(seed)
        ids, mask = left_pad([p for p in prompts for _ in range(n)], self.pad_id)
        out = self.model.generate(
            input_ids=ids,
            attention_mask=mask,
            do_sample=True,
            temperature=temperature,
            top_p=top_p,
            top_k=0,
            max_new_tokens=max_new_tokens,
            eos_token_id=self.stop_ids,
            pad_token_id=self.pad_id,
        )
        stops = set(self.stop_ids)
        return [cut_at_stop(row[ids.shape[1] :].tolist(), stops) for row in out]
