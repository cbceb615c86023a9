"""Embedded engine: llama-cpp-python in process, every live sequence of every request decoded in one batch.

One model and one multi-sequence context per process (per model path and context shape). A worker thread
owns the context: each step it feeds the next token of every active sequence (plus prompt-lookup drafts)
to a single ``llama_decode`` with per-token sequence ids, samples each sequence with its own seeded sampler
chain, and hands text back to the awaiting tasks. ``n`` candidates share one prompt prefill (KV copy), and a
prompt starts from the longest prefix any slot's KV still holds (streamed candidates of one prompt, judge calls
on one problem); a whole-prompt hit reuses the logits kept from its prefill, so sampling is unchanged.

On CPU ``llama_decode`` is nearly all of a step (py-spy: ~98%), and N sequences in one batch cost about
N times one (matrix-vector work per row); batching saves the shared prefill and keeps concurrent requests in
one stream of work. Greedy text with and without prompt lookup is identical except at near-tied tokens:
verification rows run through llama.cpp's batched kernels, whose rounding differs from one-token steps.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import ctypes
import functools
import logging
import os
import threading
import time
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import llama_cpp
import numpy as np
from llama_cpp import _internals as llama_internals
from llama_cpp.llama_chat_format import Jinja2ChatFormatter, format_gemma
from llama_cpp.llama_grammar import LlamaGrammar

from k2core.config import EmbeddedSettings, EngineSettings
from k2core.engines.base import seeds_for
from k2core.engines.json_grammar import json_schema_grammar
from k2core.engines.stops import StopMatcher
from k2core.errors import EngineError, ValidationError
from k2core.models import resolve_model_path
from k2core.types import Completion, Delta, Message, SamplingParams, SpecDecodeStats, TokenLogprob

__all__ = ["LlamaCppEngine"]

_Event = tuple[int, "str | Completion | BaseException"]


_GRAMMAR_WINDOW = 512
_MIN_REUSE = 8  # shorter shared prefixes are cheaper to decode again than a KV stream is to copy
_TOKEN_DATA = np.dtype([("id", np.intc), ("logit", np.single), ("p", np.single)], align=True)


def _apply(sampler: llama_cpp.llama_sampler_p, ids: np.ndarray, logits: np.ndarray) -> tuple[np.ndarray, Any]:
    """Run one llama.cpp sampler over the given candidates; returns them (changed in place) and the array."""
    data = np.zeros(len(ids), dtype=_TOKEN_DATA)
    data["id"], data["logit"] = ids, logits
    array = llama_cpp.llama_token_data_array(
        data=data.ctypes.data_as(llama_cpp.llama_token_data_p), size=len(ids), selected=-1, sorted=False
    )
    llama_cpp.llama_sampler_apply(sampler, ctypes.byref(array))
    return data, array


def _logits_row(ctx: llama_internals.LlamaContext, idx: int, n_vocab: int) -> np.ndarray:
    """The logits after batch position ``idx`` of the last decode (a view into llama.cpp's buffer)."""
    return np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(ctx.ctx, idx), shape=(n_vocab,))


def token_logprob(logits: np.ndarray, token: int, k: int, piece: Callable[[int], bytes]) -> TokenLogprob:
    """``token``'s log-probability under the softmax of ``logits`` and the ``k`` most likely tokens' (the model's
    distribution, before sampling settings and grammar; a text shared by several tokens keeps the likeliest)."""
    peak = float(logits.max())
    log_norm = peak + float(np.log(np.exp(logits - peak, dtype=np.float64).sum()))
    best = np.argpartition(logits, -k)[-k:] if k < len(logits) else np.arange(len(logits))
    top: dict[str, float] = {}
    for tid in sorted(best.tolist(), key=lambda t: -logits[t]):
        top.setdefault(piece(tid).decode("utf-8", "replace"), float(logits[tid]) - log_norm)
    return TokenLogprob(token=piece(token).decode("utf-8", "replace"), logprob=float(logits[token]) - log_norm, top=top)


class _Sampler:
    """One sequence's sampling: a llama.cpp chain (top-k, top-p, temperature, seeded dist, or greedy) and an
    optional grammar. The grammar is checked on the sampled token first; on rejection the chain samples among
    the grammar-valid tokens of the ``_GRAMMAR_WINDOW`` most likely ones, or of the whole 262K vocabulary
    (~90 ms) when none of those fits."""

    def __init__(
        self,
        model: llama_internals.LlamaModel,
        params: SamplingParams,
        seed: int | None,
        top_k: int,
        grammar: LlamaGrammar | None,
        piece: Callable[[int], bytes],
    ) -> None:
        self.chain = llama_internals.LlamaSampler()
        if params.temperature == 0:
            self.chain.add_greedy()
        else:
            if top_k > 0:
                self.chain.add_top_k(top_k)
            self.chain.add_top_p(params.top_p, 1)
            self.chain.add_temp(params.temperature)
            self.chain.add_dist(llama_cpp.LLAMA_DEFAULT_SEED if seed is None else seed & 0xFFFFFFFF)
        self.grammar = None
        if grammar is not None:
            self.grammar = llama_cpp.llama_sampler_init_grammar(
                model.vocab, grammar._grammar.encode(), grammar._root.encode()
            )
        self._n_vocab = model.n_vocab()
        self._piece = piece
        self.top_logprobs = params.top_logprobs
        self.logprobs: list[TokenLogprob] = []

    def sample(self, ctx: llama_internals.LlamaContext, idx: int, logits: np.ndarray | None = None) -> int:
        """Sample the token after batch position ``idx``, or from ``logits`` kept from an earlier decode (the same
        candidates in the same order as llama.cpp builds them, so the same seed picks the same token)."""
        if logits is None:
            token = self.chain.sample(ctx, idx)
        else:
            data, array = _apply(self.chain.sampler, np.arange(self._n_vocab), logits)
            token = int(data["id"][array.selected])
            llama_cpp.llama_sampler_accept(self.chain.sampler, token)
        if self.grammar is not None:
            if not self._valid(np.array([token]), np.zeros(1)).size:
                token = self._constrained(_logits_row(ctx, idx, self._n_vocab) if logits is None else logits)
            llama_cpp.llama_sampler_accept(self.grammar, token)
        if self.top_logprobs:
            row = _logits_row(ctx, idx, self._n_vocab) if logits is None else logits
            self.logprobs.append(token_logprob(row, token, self.top_logprobs, self._piece))
        return token

    def _valid(self, ids: np.ndarray, logits: np.ndarray) -> np.ndarray:
        """The candidates the grammar allows next."""
        assert self.grammar is not None
        data, array = _apply(self.grammar, ids, logits)
        data = data[: array.size]
        return data[np.isfinite(data["logit"])]

    def _constrained(self, logits: np.ndarray) -> int:
        window = np.argpartition(logits, -_GRAMMAR_WINDOW)[-_GRAMMAR_WINDOW:]
        valid = self._valid(window, logits[window])
        if not valid.size:
            everything = np.arange(self._n_vocab)
            valid = self._valid(everything, logits)
        data, array = _apply(self.chain.sampler, valid["id"], valid["logit"])
        return int(data["id"][array.selected])

    def close(self) -> None:
        self.chain.close()
        if self.grammar is not None:
            llama_cpp.llama_sampler_free(self.grammar)
            self.grammar = None


class _Drafter:
    """Prompt-lookup drafts for one sequence. The trailing n-gram (longest first, up to ``ngram``) is looked up
    at its earliest earlier occurrence, as ``LlamaPromptLookupDecoding`` does; once a span is being copied the
    drafter keeps following it while it matches instead of searching again. Every drafted token costs a
    full-vocabulary logits row, so after a miss it drafts only what matched plus one, and doubles back up to
    ``max_tokens`` after a full match."""

    def __init__(self, ngram: int, max_tokens: int) -> None:
        self.ngram = ngram
        self.max_tokens = max_tokens
        self.limit = max_tokens
        self.source: int | None = None
        self.drafted = 0
        self.accepted = 0

    def propose(self, history: np.ndarray, room: int) -> list[int]:
        """Up to ``room`` tokens expected after ``history``."""
        limit = min(self.limit, room)
        if limit <= 0:
            return []
        if not self._aligned(history):
            self.source = self._search(history)
        if self.source is None:
            return []
        return [int(t) for t in history[self.source : self.source + limit]]

    def update(self, drafted: int, matched: int) -> None:
        """Record a verified step: ``matched`` of ``drafted`` tokens were what the model picked."""
        self.drafted += drafted
        self.accepted += matched
        if drafted:
            self.limit = min(self.max_tokens, 2 * drafted if matched == drafted else matched + 1)
        if self.source is not None:
            self.source += matched + 1

    def _aligned(self, history: np.ndarray) -> bool:
        n = min(self.ngram, len(history) - 1)
        s = self.source
        return s is not None and n <= s < len(history) and bool((history[s - n : s] == history[-n:]).all())

    def _search(self, history: np.ndarray) -> int | None:
        for n in range(min(self.ngram, len(history) - 1), 0, -1):
            windows = np.lib.stride_tricks.sliding_window_view(history[:-1], n)
            hits = np.flatnonzero((windows == history[-n:]).all(axis=1))
            if hits.size:
                return int(hits[0]) + n
        return None


@dataclass(eq=False)
class _Job:
    """One request: a tokenized prompt, ``n`` sequences to sample, and where their output goes."""

    prompt: list[int]
    params: SamplingParams
    seeds: list[int | None]
    grammar: LlamaGrammar | None
    lookup: tuple[int, int] | None
    stream: bool
    sink: Callable[[_Event], object]
    waiting: deque[int] = field(default_factory=deque)
    cancelled: bool = False
    submitted: float = field(default_factory=time.perf_counter)


@dataclass(eq=False)
class _Sequence:
    """One sequence being decoded in a KV slot; ``pending`` is the last sampled token, not yet in the KV cache."""

    job: _Job
    index: int
    slot: int
    sampler: _Sampler | None = None
    n_past: int = 0
    pending: int = -1
    tokens: list[int] = field(default_factory=list)
    text: str = ""
    sent: int = 0
    drafter: _Drafter | None = None
    decoder: codecs.IncrementalDecoder = field(default_factory=lambda: codecs.getincrementaldecoder("utf-8")("replace"))
    stops: StopMatcher | None = None


def _common_prefix(a: list[int], b: list[int]) -> int:
    """The length of the longest common prefix of two token lists."""
    n = min(len(a), len(b))
    for i in range(n):
        if a[i] != b[i]:
            return i
    return n


def decode_threads(cfg: EmbeddedSettings) -> int:
    """``n_threads`` when set, else half the CPUs this process may run on (one per physical core on SMT
    machines): llama.cpp's threads spin at their barriers, so more threads than free cores costs far more
    than it gives on a shared box."""
    return cfg.n_threads or max(1, len(os.sched_getaffinity(0)) // 2)


KV_CACHE_TYPES = {"f16": llama_cpp.GGML_TYPE_F16, "q8_0": llama_cpp.GGML_TYPE_Q8_0}
"""The ggml element type of the KV cache for each ``kv_cache_type`` setting."""


def context_params(cfg: EmbeddedSettings) -> llama_cpp.llama_context_params:
    """The llama.cpp context of a runtime: one KV stream of ``n_ctx`` cells per sequence slot."""
    slots = cfg.max_sequences if cfg.parallel_sequences else 1
    params = llama_cpp.llama_context_default_params()
    params.n_ctx = cfg.n_ctx * slots
    params.n_batch = params.n_ubatch = cfg.n_batch
    params.n_seq_max = slots
    params.kv_unified = False
    params.swa_full = False
    params.n_threads = params.n_threads_batch = decode_threads(cfg)
    params.type_k = params.type_v = KV_CACHE_TYPES[cfg.kv_cache_type]
    if cfg.kv_cache_type != "f16":  # llama.cpp keeps a quantised V cache only under flash attention
        params.flash_attn_type = llama_cpp.LLAMA_FLASH_ATTN_TYPE_ENABLED
    return params


class _Runtime:
    """A multi-sequence context over a shared model, and the worker thread that decodes it."""

    def __init__(
        self, model: llama_internals.LlamaModel, cfg: EmbeddedSettings, measured: frozenset[int] | None = None
    ) -> None:
        self.model = model
        slots = cfg.max_sequences if cfg.parallel_sequences else 1
        self.ctx = llama_internals.LlamaContext(model=self.model, params=context_params(cfg), verbose=False)
        self.batch = llama_internals.LlamaBatch(n_tokens=cfg.n_batch, embd=0, n_seq_max=1, verbose=False)
        if cfg.decode_rows == "auto":
            self.split_rows = measured if measured is not None else self._measure_split_rows(slots)
        else:
            self.split_rows = frozenset(range(2, slots + 1)) if cfg.decode_rows == "split" else frozenset()
        self.n_ctx = llama_cpp.llama_n_ctx_seq(self.ctx.ctx)
        self.n_batch = cfg.n_batch
        self.top_k = cfg.top_k
        self.chat_template = self.model.metadata().get("tokenizer.chat_template")
        self.bos = self.model.token_get_text(self.model.token_bos())
        self.eos = self.model.token_get_text(self.model.token_eos())
        self._free = deque(range(slots))
        self.prefix_reuse = cfg.prefix_reuse
        self._held: list[list[int]] = [[] for _ in range(slots)]
        self._anchor: list[tuple[int, np.ndarray] | None] = [None] * slots  # logits after a slot's first k tokens
        self._n_vocab = model.n_vocab()
        self.prefill_decoded = 0
        self.decode_seconds = 0.0  # wall time inside llama_decode: what the engine's own work is measured against
        self.prefill_reused = 0
        self._pending: deque[_Job] = deque()
        self._active: list[_Sequence] = []
        self._cond = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="k2-llamacpp-decode", daemon=True)
        self._thread.start()

    def _measure_split_rows(self, slots: int, trials: int = 3) -> frozenset[int]:
        """The sequence counts (2 .. ``slots``) for which one ``llama_decode`` per sequence is faster than one
        batched call on this machine: a CPU's kernels for several rows can cost more per row than its one-row path
        (on AVX-512 Zen 5 with Q4_K_M weights, 3 rows batched took 1.6x three one-row calls). Best of ``trials``
        timings each, on the context's own empty slots, which are cleared after."""
        if slots < 2:
            return frozenset()
        token, positions = self.model.token_bos(), [0] * slots

        def timed(seqs: range) -> float:
            self._fill([(token, positions[s], s, True) for s in seqs])
            start = time.perf_counter()
            self.ctx.decode(self.batch)
            for s in seqs:
                positions[s] += 1
            return time.perf_counter() - start

        one: list[float] = []
        batched: dict[int, list[float]] = {rows: [] for rows in range(2, slots + 1)}
        for _ in range(trials):
            one.append(timed(range(1)))
            for rows, times in batched.items():
                times.append(timed(range(rows)))
        self.ctx.kv_cache_clear()
        return frozenset(rows for rows, times in batched.items() if rows * min(one) < min(times))

    # --- called from the event loop side -------------------------------------------------------------

    def prompt(self, messages: list[Message]) -> list[int]:
        """The conversation rendered with the chat template and tokenized (BOS added unless it is there)."""
        text = chat_prompt(self.chat_template, messages, bos=self.bos, eos=self.eos)
        return self.model.tokenize(text.encode(), add_bos=not text.startswith(self.bos), special=True)

    def grammar(self, schema: dict[str, Any]) -> LlamaGrammar:
        """A llama.cpp grammar for a JSON schema; ValidationError when llama.cpp cannot build one."""
        try:
            grammar = LlamaGrammar.from_string(json_schema_grammar(schema), verbose=False)
            sampler = llama_cpp.llama_sampler_init_grammar(
                self.model.vocab, grammar._grammar.encode(), grammar._root.encode()
            )
        except Exception as exc:
            raise ValidationError("json_schema", f"cannot be turned into a grammar: {exc}") from exc
        if not sampler:
            raise ValidationError("json_schema", "llama.cpp rejected the grammar built from it")
        llama_cpp.llama_sampler_free(sampler)
        return grammar

    def submit(self, job: _Job) -> None:
        with self._cond:
            if self._closed:
                raise EngineError("the embedded engine is closed", retryable=True)
            self._pending.append(job)
            self._cond.notify()

    def cancel(self, job: _Job) -> None:
        with self._cond:
            job.cancelled = True
            self._cond.notify()

    @property
    def active_sequences(self) -> int:
        """Sequences decoding or waiting for a slot."""
        with self._cond:
            return len(self._active) + sum(len(job.waiting) for job in self._pending)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify()
        self._thread.join()
        self.batch.close()
        self.ctx.close()

    # --- the worker thread ---------------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._closed and not self._active and not self._admissible():
                    self._cond.wait()
                if self._closed:
                    failing = [job for job in self._pending] + [seq.job for seq in self._active]
                    for job in dict.fromkeys(failing):
                        self._emit(job, (-1, EngineError("the embedded engine closed", retryable=True)))
                    return
                self._drop_cancelled()
                groups = self._admit()
            try:
                for job, seqs in groups:
                    self._prefill(job, seqs)
                if self._active:
                    self._step()
            except Exception as exc:  # a failed decode fails every request in flight, then the loop goes on
                self._fail_all(EngineError(f"llama.cpp decode failed: {exc}", retryable=True))

    def _admissible(self) -> bool:
        return bool(self._free) and any(job.waiting and not job.cancelled for job in self._pending)

    def _admit(self) -> list[tuple[_Job, list[_Sequence]]]:
        groups = []
        while self._free and self._pending:
            job = self._pending[0]
            if job.cancelled or not job.waiting:
                self._pending.popleft()
                continue
            seqs = []
            self._free.rotate(-self._free.index(self._best_free_slot(job.prompt)))
            while job.waiting and self._free:
                drafter = _Drafter(*job.lookup) if job.lookup else None
                seqs.append(
                    _Sequence(
                        job=job,
                        index=job.waiting.popleft(),
                        slot=self._free.popleft(),
                        drafter=drafter,
                        stops=StopMatcher(job.params.stop) if job.params.stop else None,
                    )
                )
            groups.append((job, seqs))
        return groups

    def _drop_cancelled(self) -> None:
        for seq in [seq for seq in self._active if seq.job.cancelled]:
            self._release(seq)
        self._pending = deque(job for job in self._pending if not job.cancelled)

    def _best_free_slot(self, prompt: list[int]) -> int:
        """The free slot whose KV holds the longest prefix of ``prompt``; the least recently freed among equals."""
        return max(self._free, key=lambda slot: _common_prefix(self._held[slot], prompt))

    def _contents(self, slot: int) -> list[int]:
        """The tokens whose KV ``slot`` holds at positions 0, 1, ... (an active sequence: prompt and fed tokens)."""
        for seq in self._active:
            if seq.slot == slot:
                return seq.job.prompt + seq.tokens[: seq.n_past - len(seq.job.prompt)]
        return self._held[slot]

    def _reuse(self, prompt: list[int], slot: int) -> tuple[int, np.ndarray | None]:
        """Put into ``slot`` the longest prefix of ``prompt`` that any slot's KV holds (a whole-stream copy when it
        is another slot's): how many tokens that is, and the logits after them when the whole prompt is held with
        its logits kept (then nothing is decoded, and sampling sees exactly what a fresh prefill gave). Otherwise
        the last prompt token is decoded again for its logits."""
        if not self.prefix_reuse:
            self.ctx.kv_cache_seq_rm(slot, -1, -1)
            return 0, None

        def usable(s: int) -> tuple[int, np.ndarray | None]:
            common, anchor = _common_prefix(self._contents(s), prompt), self._anchor[s]
            if common == len(prompt) and anchor is not None and anchor[0] == len(prompt):
                return common, anchor[1]
            return min(common, len(prompt) - 1), None

        held = {s: usable(s) for s in range(len(self._held))}
        source = max(held, key=lambda s: (held[s][0], s == slot))
        reused, logits = held[source]
        if reused < _MIN_REUSE:
            self.ctx.kv_cache_seq_rm(slot, -1, -1)
            return 0, None
        if source != slot:
            self.ctx.kv_cache_seq_cp(source, slot, -1, -1)
        self.ctx.kv_cache_seq_rm(slot, reused, -1)
        return reused, logits

    def _prefill(self, job: _Job, seqs: list[_Sequence]) -> None:
        """Decode the prompt once into the first slot (after what a slot's KV already holds of it), copy its KV to
        the others, sample each first token."""
        first = seqs[0].slot
        reused, logits = self._reuse(job.prompt, first)
        self.prefill_reused += reused
        self.prefill_decoded += len(job.prompt) - reused
        for seq in seqs:
            self._active.append(seq)
            seq.sampler = _Sampler(self.model, job.params, job.seeds[seq.index], self.top_k, job.grammar, self._piece)
        last = 0
        for start in range(reused, len(job.prompt), self.n_batch):
            chunk = job.prompt[start : start + self.n_batch]
            self._fill([(token, start + i, first, start + i == len(job.prompt) - 1) for i, token in enumerate(chunk)])
            self._decode()
            last = len(chunk) - 1
        if self.prefix_reuse:
            if logits is None:
                logits = _logits_row(self.ctx, last, self._n_vocab).copy()
            for seq in seqs:
                self._anchor[seq.slot] = (len(job.prompt), logits)
        for seq in seqs:
            if seq.slot != first:
                self.ctx.kv_cache_seq_cp(first, seq.slot, -1, -1)
            seq.n_past = len(job.prompt)
            assert seq.sampler is not None
            if self._accept(seq, seq.sampler.sample(self.ctx, last, logits)):
                seq.pending = seq.tokens[-1]

    def _decode(self) -> None:
        start = time.perf_counter()
        self.ctx.decode(self.batch)
        self.decode_seconds += time.perf_counter() - start

    def _fill(self, entries: list[tuple[int, int, int, bool]]) -> None:
        batch = self.batch.batch
        batch.n_tokens = len(entries)
        for i, (token, pos, seq_id, logits) in enumerate(entries):
            batch.token[i], batch.pos[i], batch.n_seq_id[i], batch.logits[i] = token, pos, 1, logits
            batch.seq_id[i][0] = seq_id

    def _drafts(self, seq: _Sequence, room: int) -> list[int]:
        if seq.drafter is None or seq.job.grammar is not None:
            return []
        room = min(room, seq.job.params.max_tokens - len(seq.tokens) - 1, self.n_ctx - seq.n_past - 1)
        return seq.drafter.propose(np.array(seq.job.prompt + seq.tokens, dtype=np.intc), room)

    def _step(self) -> None:
        """Feed every active sequence's pending token (plus drafts), decode once (or once per sequence where the
        load-time measurement found that faster), verify and sample."""
        entries: list[tuple[int, int, int, bool]] = []
        plan: list[tuple[_Sequence, int, list[int]]] = []
        room = self.n_batch - len(self._active)
        for seq in list(self._active):
            drafts = self._drafts(seq, room)
            room -= len(drafts)
            plan.append((seq, len(entries), drafts))
            for offset, token in enumerate([seq.pending, *drafts]):
                entries.append((token, seq.n_past + offset, seq.slot, True))
        if len(entries) in self.split_rows and len(entries) == len(plan):  # one row per sequence, no drafts
            for (seq, _, drafts), entry in zip(plan, entries, strict=True):
                self._fill([entry])
                self._decode()
                self._verify(seq, 0, drafts)
            return
        self._fill(entries)
        self._decode()
        for seq, start, drafts in plan:
            self._verify(seq, start, drafts)

    def _verify(self, seq: _Sequence, start: int, drafts: list[int]) -> None:
        """Accept drafted tokens while they equal what the sampler picks; roll the KV cache back after that."""
        seq.n_past += 1
        matched = 0
        alive = self._accept(seq, self._sample(seq, start))
        while alive and matched < len(drafts) and seq.tokens[-1] == drafts[matched]:
            matched += 1
            seq.n_past += 1
            alive = self._accept(seq, self._sample(seq, start + matched))
        if seq.drafter is not None:
            seq.drafter.update(len(drafts), matched)
        if alive:
            if drafts:
                self.ctx.kv_cache_seq_rm(seq.slot, seq.n_past, -1)
            seq.pending = seq.tokens[-1]

    def _sample(self, seq: _Sequence, idx: int) -> int:
        assert seq.sampler is not None
        return seq.sampler.sample(self.ctx, idx)

    def _accept(self, seq: _Sequence, token: int) -> bool:
        """Append a sampled token; finish the sequence on end of generation, a stop string or a limit."""
        if llama_cpp.llama_vocab_is_eog(self.model.vocab, token):
            return self._finish(seq, "stop")
        seq.tokens.append(token)
        piece = seq.decoder.decode(self._piece(token))
        seq.text += piece
        hit = seq.stops.feed(piece) if seq.stops is not None else None
        if hit is not None:
            seq.text = seq.text[:hit]
            return self._finish(seq, "stop", flush=False)
        if len(seq.tokens) >= seq.job.params.max_tokens or seq.n_past >= self.n_ctx:
            return self._finish(seq, "length")
        if seq.job.stream:
            visible = len(seq.text) - (seq.stops.held_back if seq.stops is not None else 0)
            if visible > seq.sent:
                self._emit(seq.job, (seq.index, seq.text[seq.sent : visible]))
                seq.sent = visible
        return True

    def _piece(self, token: int) -> bytes:
        buf = ctypes.create_string_buffer(64)
        n = llama_cpp.llama_token_to_piece(self.model.vocab, token, buf, len(buf), 0, False)
        if n < 0:
            buf = ctypes.create_string_buffer(-n)
            n = llama_cpp.llama_token_to_piece(self.model.vocab, token, buf, len(buf), 0, False)
        return buf.raw[:n]

    def _finish(self, seq: _Sequence, reason: str, flush: bool = True) -> bool:
        if flush:
            seq.text += seq.decoder.decode(b"", True)
        job = seq.job
        if job.stream and len(seq.text) > seq.sent:
            self._emit(job, (seq.index, seq.text[seq.sent :]))
        stats = None
        if seq.drafter is not None:
            stats = SpecDecodeStats(
                method="prompt_lookup", draft_tokens=seq.drafter.drafted, accepted_tokens=seq.drafter.accepted
            )
        logprobs = None
        if job.params.top_logprobs and seq.sampler is not None:
            logprobs = seq.sampler.logprobs[: len(seq.tokens)]  # not the end-of-generation token
        completion = Completion(
            text=seq.text,
            finish_reason=reason,
            prompt_tokens=len(job.prompt),
            completion_tokens=len(seq.tokens),
            seconds=time.perf_counter() - job.submitted,
            spec_decode=stats,
            logprobs=logprobs,
        )
        self._emit(job, (seq.index, completion))
        self._release(seq)
        return False

    def _release(self, seq: _Sequence) -> None:
        if seq in self._active:
            self._held[seq.slot] = self._contents(seq.slot) if self.prefix_reuse else []
            self._active.remove(seq)
            if not self.prefix_reuse:
                self.ctx.kv_cache_seq_rm(seq.slot, -1, -1)
            self._free.append(seq.slot)
            if seq.sampler is not None:
                seq.sampler.close()

    def _emit(self, job: _Job, event: _Event) -> None:
        try:
            job.sink(event)
        except RuntimeError:  # the awaiting event loop is gone: nobody wants this request any more
            job.cancelled = True

    def _fail_all(self, error: EngineError) -> None:
        for job in dict.fromkeys(seq.job for seq in self._active):
            self._emit(job, (-1, error))
            job.cancelled = True
        for seq in list(self._active):
            self._release(seq)
        self.ctx.kv_cache_clear()
        self._held = [[] for _ in self._held]
        self._anchor = [None] * len(self._anchor)


class _Registry:
    """Process-wide sharing: one llama model per GGUF path, one runtime per model and context shape."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._models: dict[str, llama_internals.LlamaModel] = {}
        self._runtimes: dict[tuple[Any, ...], _Runtime] = {}
        self._refs: dict[_Runtime, int] = {}
        self._split_rows: dict[tuple[Any, ...], frozenset[int]] = {}  # measured decode choice per decode shape

    def acquire(self, path: Path, cfg: EmbeddedSettings) -> _Runtime:
        """The runtime for this model and context shape, loading what is missing."""
        model_key = str(path.resolve())
        # what decode costs depends on the model, the context's shape and the cache, not on sampling knobs
        shape = (model_key, cfg.n_ctx, cfg.n_batch, cfg.n_threads, cfg.max_sequences, cfg.parallel_sequences,
                 cfg.kv_cache_type)  # fmt: skip
        key = (*shape, cfg.top_k, cfg.prefix_reuse, cfg.decode_rows)
        with self._lock:
            runtime = self._runtimes.get(key)
            if runtime is None:
                model = self._models.get(model_key)
                if model is None:
                    logger = logging.getLogger("llama-cpp-python")
                    if logger.level == logging.NOTSET:
                        logger.setLevel(logging.ERROR)
                    llama_cpp.llama_backend_init()
                    model = self._models[model_key] = llama_internals.LlamaModel(
                        path_model=model_key, params=llama_cpp.llama_model_default_params(), verbose=False
                    )
                runtime = self._runtimes[key] = _Runtime(model, cfg, self._split_rows.get(shape))
                if cfg.decode_rows == "auto":
                    self._split_rows[shape] = runtime.split_rows
            self._refs[runtime] = self._refs.get(runtime, 0) + 1
            return runtime

    def release(self, runtime: _Runtime) -> None:
        """Drop one hold; the last one closes the runtime, and the model once no runtime uses it."""
        with self._lock:
            self._refs[runtime] -= 1
            if self._refs[runtime]:
                return
            del self._refs[runtime]
            key = next(k for k, known in self._runtimes.items() if known is runtime)
            del self._runtimes[key]
            runtime.close()
            if not any(k[0] == key[0] for k in self._runtimes):
                self._models.pop(key[0]).close()


_REGISTRY = _Registry()


@functools.lru_cache(maxsize=8)
def _formatter(template: str, eos: str, bos: str) -> Jinja2ChatFormatter:
    """A compiled chat template (compiling one costs ~10 ms of CPU, more than the rest of a request's set-up)."""
    return Jinja2ChatFormatter(template, eos_token=eos, bos_token=bos)


def chat_prompt(template: str | None, messages: list[Message], *, bos: str = "<bos>", eos: str = "<eos>") -> str:
    """Render the conversation with the GGUF's chat template, or Gemma's turn format when the GGUF has none
    (system messages folded into the first user turn, as Gemma's own template does)."""
    turns = [m.model_dump() for m in messages]
    if template:
        return _formatter(template, eos, bos)(messages=cast(Any, turns)).prompt
    system = "\n\n".join(t["content"] for t in turns if t["role"] == "system")
    turns = [t for t in turns if t["role"] != "system"]
    if system:
        if turns and turns[0]["role"] == "user":
            turns[0] = {"role": "user", "content": f"{system}\n\n{turns[0]['content']}"}
        else:
            turns.insert(0, {"role": "user", "content": system})
    return format_gemma(messages=turns).prompt


class LlamaCppEngine:
    """The ``embedded`` engine; the model loads on ``load()`` or the first request and is shared per process."""

    name = "embedded"
    supports_json_schema = True

    def __init__(self, settings: EngineSettings, *, cache_dir: Path) -> None:
        self._cfg = settings.embedded
        self._cache_dir = Path(cache_dir)
        self._runtime: _Runtime | None = None
        self._lock = asyncio.Lock()
        self.context_tokens: int | None = self._cfg.n_ctx

    async def load(self) -> None:
        """Prepare and load the model (idempotent)."""
        async with self._lock:
            if self._runtime is None:
                path = await asyncio.to_thread(resolve_model_path, self._cfg, self._cache_dir)
                self._runtime = await asyncio.to_thread(_REGISTRY.acquire, path, self._cfg)

    @property
    def active_sequences(self) -> int:
        """Sequences of this process's shared runtime that are decoding or queued."""
        return self._runtime.active_sequences if self._runtime else 0

    @property
    def prefill_tokens(self) -> tuple[int, int]:
        """Prompt tokens of this process's shared runtime so far: (decoded, reused from a slot's KV)."""
        return (self._runtime.prefill_decoded, self._runtime.prefill_reused) if self._runtime else (0, 0)

    @property
    def decode_seconds(self) -> float:
        """Wall seconds the shared runtime has spent inside ``llama_decode`` so far."""
        return self._runtime.decode_seconds if self._runtime else 0.0

    async def generate(self, messages: list[Message], params: SamplingParams, n: int = 1) -> list[Completion]:
        """``n`` completions decoded together, sharing the prompt's prefill."""
        results: list[Completion | None] = [None] * n
        async with contextlib.aclosing(self._run(messages, params, n, stream=False)) as events:
            async for index, item in events:
                assert isinstance(item, Completion)
                results[index] = item
        return [r for r in results if r is not None]

    async def stream(self, messages: list[Message], params: SamplingParams) -> AsyncIterator[Delta]:
        """Text deltas of one completion; the last delta carries finish_reason and token counts."""
        async with contextlib.aclosing(self._run(messages, params, 1, stream=True)) as events:
            async for _, item in events:
                if isinstance(item, Completion):
                    yield Delta(
                        finish_reason=item.finish_reason,
                        prompt_tokens=item.prompt_tokens,
                        completion_tokens=item.completion_tokens,
                    )
                else:
                    yield Delta(text=item)

    async def _run(
        self, messages: list[Message], params: SamplingParams, n: int, stream: bool
    ) -> AsyncGenerator[tuple[int, str | Completion]]:
        await self.load()
        runtime = self._runtime
        assert runtime is not None
        prompt = await asyncio.to_thread(runtime.prompt, messages)
        if len(prompt) >= runtime.n_ctx:
            raise ValidationError("messages", f"the prompt has {len(prompt)} tokens; the context is {runtime.n_ctx}")
        grammar = None if params.json_schema is None else runtime.grammar(params.json_schema)
        cfg = self._cfg
        lookup = (cfg.prompt_lookup_ngram, cfg.prompt_lookup_draft_tokens) if cfg.prompt_lookup else None
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[_Event] = asyncio.Queue()
        job = _Job(
            prompt=prompt,
            params=params,
            seeds=seeds_for(params, n),
            grammar=grammar,
            lookup=lookup,
            stream=stream,
            sink=lambda event: loop.call_soon_threadsafe(queue.put_nowait, event),
            waiting=deque(range(n)),
        )
        runtime.submit(job)
        done = 0
        try:
            while done < n:
                index, item = await queue.get()
                if isinstance(item, BaseException):
                    raise item
                done += isinstance(item, Completion)
                yield index, item
        finally:
            if done < n:
                runtime.cancel(job)

    async def health(self) -> bool:
        """Healthy once loaded (or loadable) and not closed."""
        try:
            await self.load()
        except Exception:
            return False
        return True

    async def close(self) -> None:
        """Drop this engine's hold on the shared runtime; the last holder frees the model."""
        async with self._lock:
            if self._runtime is not None:
                runtime, self._runtime = self._runtime, None
                await asyncio.to_thread(_REGISTRY.release, runtime)
