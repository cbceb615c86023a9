"""Every benchmark in one place: its name, what it measures, the results it writes, what it needs, the modules it
is built from and the figures the summaries headline. ``k2think bench`` lists and runs them from here.

A bench's entry is ``main(argv) -> int`` with its own argparse options; it runs in the calling process, imported
only when it runs (``--list`` loads no model, no engine, no vLLM).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum


class Need(StrEnum):
    """What a bench needs besides the project's packages."""

    MODEL = "model"  # the prepared embedded GGUF (`make model`)
    PEER = "peer"  # a third-party system it starts next to k2think
    GPU = "gpu"  # CUDA and the [gpu] extra (without them it records why and exits 0)


@dataclass(frozen=True)
class Bench:
    """One benchmark: ``entry`` is ``module:function`` (a ``main(argv) -> int``); ``writes`` are file names under
    the results directory; ``parts`` are the ``bench`` modules it is built from besides its entry module."""

    name: str
    entry: str
    description: str
    writes: tuple[str, ...]
    needs: tuple[Need, ...] = ()
    parts: tuple[str, ...] = ()
    headlines: tuple[str, ...] = ()

    @property
    def module(self) -> str:
        """The entry's module, e.g. ``bench.engine_bench``."""
        return self.entry.partition(":")[0]

    @property
    def result(self) -> str:
        """The stem of its main results file (``services`` for ``services.json``): the summaries' key."""
        return self.writes[0].rsplit(".", 1)[0]

    def main(self) -> Callable[[list[str]], int]:
        """Import the entry function (only now: a bench's imports can be heavy)."""
        module, _, function = self.entry.partition(":")
        return getattr(importlib.import_module(module), function or "main")

    def run(self, argv: Sequence[str]) -> int:
        """Run the bench in this process with its own options (its usage reads ``k2think bench NAME``);
        argparse's exit (``--help``, a bad option) becomes the exit status."""
        main = self.main()
        saved = sys.argv
        sys.argv = [f"k2think bench {self.name}", *argv]
        try:
            return main(list(argv))
        except SystemExit as stop:  # sys.exit(message) prints the message and exits 1, as it would on its own
            if stop.code is not None and not isinstance(stop.code, int):
                print(stop.code, file=sys.stderr)
            return stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
        finally:
            sys.argv = saved


class UnknownBench(ValueError):
    """A bench name the registry does not have; the message names every one it has."""


BENCHES: tuple[Bench, ...] = (
    Bench(
        name="verify",
        entry="bench.verify_bench:main",
        description="math-verify gradings/s (cold and cached parses), sandboxed HumanEval gradings/s with 2 workers",
        writes=("verify.json",),
    ),
    Bench(
        name="engine",
        entry="bench.engine_bench:main",
        description="embedded engine: overhead over bare llama_decode, N=3 batching, prompt lookup, prefix reuse",
        writes=("engine.json",),
        needs=(Need.MODEL,),
        parts=("bench.decode_floor",),
        headlines=(
            "n1_overhead",
            "n3_overhead",
            "n3_over_floor_wall",
            "n3_over_batched_floor_wall",
            "n3_over_3_sequential_wall",
            "n3_over_n1_wall",
            "n1_tok_per_s",
            "n3_tok_per_s",
            "lookup_reasoning_speedup",
            "lookup_copy_speedup",
            "prefix_judge_4_calls_prefill_saved",
            "prefix_3_streamed_candidates_speedup",
        ),
    ),  # fmt: skip
    Bench(
        name="quant",
        entry="bench.quant_bench:main",
        description="the shipped Q4_K_M vs Q4_0 and Q8_0: tokens/s at N=1 and N=3, GSM8K subset accuracy (paired)",
        writes=("quant.json",),
        needs=(Need.MODEL,),
        parts=("bench.decode_floor",),
        headlines=(
            "q4_k_m n1_tok_per_s",
            "q4_0 n1_tok_per_s",
            "q8_0 n1_tok_per_s",
            "q4_k_m n3_tok_per_s",
            "q4_0 n3_tok_per_s",
            "q8_0 n3_tok_per_s",
            "q4_k_m gsm8k accuracy",
            "q4_0 gsm8k accuracy",
            "q8_0 gsm8k accuracy",
            "q4_0 - q4_k_m gsm8k (paired 95% CI)",
            "q8_0 - q4_k_m gsm8k (paired 95% CI)",
        ),
    ),  # fmt: skip
    Bench(
        name="kv_cache",
        entry="bench.kv_cache_bench:main",
        description="the KV cache in f16 vs q8_0: the solver context's memory, tokens/s at N=1 and N=3, GSM8K (paired)",
        writes=("kv_cache.json",),
        needs=(Need.MODEL,),
        headlines=(
            "f16 context_mib",
            "q8_0 context_mib",
            "f16 n3_tok_per_s",
            "q8_0 n3_tok_per_s",
            "f16 gsm8k accuracy",
            "q8_0 gsm8k accuracy",
            "q8_0 - f16 gsm8k (paired 95% CI)",
        ),
    ),  # fmt: skip
    Bench(
        name="peer",
        entry="bench.peer_bench:main",
        description="llama.cpp's llama-server (3 parallel slots) vs the embedded engine, same GGUF and threads, N=1, N=3",
        writes=("peer.json",),
        needs=(Need.MODEL, Need.PEER),
        parts=("bench.peers",),
        headlines=(
            "server_n1_tok_per_s",
            "engine_n1_tok_per_s",
            "server_n3_tok_per_s",
            "engine_n3_tok_per_s",
            "engine_over_server_n1",
            "engine_over_server_n3",
        ),
    ),  # fmt: skip
    Bench(
        name="service",
        entry="bench.service_bench:main",
        description="gRPC path overhead, 200 concurrent SolveStream clients, memory of `k2think up` per role",
        writes=("services.json",),
        needs=(Need.MODEL,),
        parts=("bench.peers",),
        headlines=(
            "grpc added p50 ms",
            "grpc added p99 ms",
            "grpc floor p50 ms (5 bare unary calls)",
            "200 SolveStream errors",
            "200 SolveStream p99 ms",
            "services peak RSS MiB",
            "embedded stack PSS MiB",
            "f16-KV stack PSS MiB",
            "four-slot stack PSS MiB",
        ),
    ),  # fmt: skip
    Bench(
        name="training",
        entry="bench.training_bench:main",
        description="local SFT step and rollouts on the embedded model with LoRA: fp32 vs bf16 mixed precision",
        writes=("training.json",),
        needs=(Need.MODEL,),
        headlines=("sft step bf16 speedup", "sft loss bf16 relative difference", "rollout bf16 speedup"),
    ),
    Bench(
        name="headtohead",
        entry="bench.headtohead_bench:main",
        description="k2think vs the K2-Think reference flow vs optillm best-of-n on one concurrent backend, GSM8K",
        writes=("headtohead.json", "headtohead.md", "headtohead.png"),
        needs=(Need.MODEL, Need.PEER),
        headlines=(
            "k2think latency speed-up over reference",
            "k2think completion-token saving vs reference",
            "reference accuracy",
            "optillm accuracy",
            "k2think accuracy",
        ),
        parts=("bench.headtohead", "bench.reference_flow", "bench.peers"),
    ),
    Bench(
        name="gpu_specdec",
        entry="bench.gpu_specdec_bench:main",
        description="vLLM speculative decoding off / ngram / EAGLE: tokens/s, acceptance, identical greedy text",
        writes=("gpu_specdec.json",),
        needs=(Need.GPU,),
    ),
)


def names() -> list[str]:
    """Every bench's name, in the order ``k2think bench`` runs them."""
    return [bench.name for bench in BENCHES]


def get(name: str) -> Bench:
    """The bench called ``name``; :class:`UnknownBench` naming the choices otherwise."""
    for bench in BENCHES:
        if bench.name == name:
            return bench
    raise UnknownBench(f"unknown bench {name!r}; expected one of {', '.join(names())}")


def headlines() -> dict[str, tuple[str, ...]]:
    """Results-file stem -> the figures the one-screen table and the README headline (SUMMARY.md has them all)."""
    return {bench.result: bench.headlines for bench in BENCHES if bench.headlines}
