"""The batched-decode floor: the ``llama_decode`` calls a generation needs, replayed with nothing else.

``replay`` prefills a prompt into slot 0 (what of it the engine did not reuse), copies its KV to the other
slots (as the engine does for ``n`` candidates) and then decodes one token per live sequence per step, for as
many steps as each sequence took in the engine, on its own context with the engine's parameters over the
engine's model. No sampling, no text, no hand-offs: what is left between this and the engine's time is the
engine's own overhead.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from llama_cpp import _internals as llama_internals

from k2core.config import EmbeddedSettings
from k2core.engines.llamacpp import context_params
from k2core.types import Completion


@dataclass(frozen=True)
class Timing:
    """Wall and whole-process CPU seconds of one measured piece of work, and the wall seconds inside llama_decode."""

    wall_s: float
    cpu_s: float
    decode_s: float


def steps_of(completion: Completion) -> int:
    """Decode steps a completion took after the prefill: one per token fed back (a length cut's last token never is)."""
    return completion.completion_tokens - (completion.finish_reason == "length")


class DecodeFloor:
    """A second context with the engine's parameters, for timing bare ``llama_decode`` replays."""

    def __init__(self, model: llama_internals.LlamaModel, cfg: EmbeddedSettings,
                 split_rows: frozenset[int] = frozenset()) -> None:
        self.ctx = llama_internals.LlamaContext(model=model, params=context_params(cfg), verbose=False)
        self.batch = llama_internals.LlamaBatch(n_tokens=cfg.n_batch, embd=0, n_seq_max=1, verbose=False)
        self.n_batch = cfg.n_batch
        self.split_rows = split_rows  # live-sequence counts decoded one call per sequence, as the engine does

    def _decode(self, entries: list[tuple[int, int, int, bool]]) -> None:
        batch = self.batch.batch
        batch.n_tokens = len(entries)
        for i, (token, pos, seq_id, logits) in enumerate(entries):
            batch.token[i], batch.pos[i], batch.n_seq_id[i], batch.logits[i] = token, pos, 1, logits
            batch.seq_id[i][0] = seq_id
        self.ctx.decode(self.batch)

    def replay(self, prompt: list[int], steps: list[int], reused: int = 0, token: int = 100) -> Timing:
        """Time the prefill of ``prompt`` after its first ``reused`` tokens (kept in slot 0 from the last replay of
        the same prompt, as the engine keeps them) and ``steps[i]`` one-token decodes of sequence ``i``, batched
        per step (one call per sequence where the live count is in ``split_rows``)."""
        self.ctx.kv_cache_seq_rm(0, reused, -1)
        for slot in range(1, len(steps)):
            self.ctx.kv_cache_seq_rm(slot, -1, -1)
        start, cpu = time.perf_counter(), time.process_time()
        for begin in range(reused, len(prompt), self.n_batch):
            chunk = prompt[begin:begin + self.n_batch]
            self._decode([(t, begin + i, 0, begin + i == len(prompt) - 1) for i, t in enumerate(chunk)])
        for slot in range(1, len(steps)):
            self.ctx.kv_cache_seq_cp(0, slot, -1, -1)
        for step in range(max(steps, default=0)):
            rows = [(token, len(prompt) + step, slot, True) for slot, n in enumerate(steps) if n > step]
            for part in ([[row] for row in rows] if len(rows) in self.split_rows else [rows]):
                self._decode(part)
        wall = time.perf_counter() - start
        return Timing(wall, time.process_time() - cpu, wall)

    def close(self) -> None:
        self.batch.close()
        self.ctx.close()
