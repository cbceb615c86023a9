"""The GPU speculative-decoding bench: variant settings map to vLLM speculative configs; without CUDA it records
why instead of failing."""

from __future__ import annotations

import argparse
import json

from bench import gpu_specdec_bench as bench
from k2core.engines.vllm import build_engine_args


def test_variants_share_the_model_and_differ_only_in_speculation() -> None:
    off = build_engine_args(bench.variant_settings("m", None, None, 2048))
    ngram = build_engine_args(bench.variant_settings("m", "ngram", None, 2048))
    eagle = build_engine_args(bench.variant_settings("m", "eagle", "draft-head", 2048))
    assert "speculative_config" not in off
    assert ngram["speculative_config"] == {"method": "ngram", "num_speculative_tokens": 4, "prompt_lookup_min": 2,
                                           "prompt_lookup_max": 5}  # fmt: skip
    assert eagle["speculative_config"] == {"method": "eagle", "num_speculative_tokens": 3, "model": "draft-head"}
    assert {k: v for k, v in off.items()} == {k: v for k, v in ngram.items() if k != "speculative_config"}


def test_without_cuda_the_result_records_why(tmp_path, monkeypatch) -> None:  # noqa: ANN001 - fixtures
    reason = bench.cuda_reason()
    if reason is None:
        return  # a GPU machine runs the real bench instead
    monkeypatch.setattr(bench, "RESULTS", tmp_path)
    assert bench.main([]) == 0
    doc = json.loads((tmp_path / "gpu_specdec.json").read_text())
    assert doc["skipped"] == reason and doc["figures"] == {} and doc["variants"] == {}


def test_document_flattens_each_variant() -> None:
    row = {"tokens_per_s": 100.0, "acceptance_rate": 0.5, "identical_greedy": True, "speedup_vs_off": 1.5, "texts": ["t"]}
    doc = bench.document(argparse.Namespace(model="m", max_tokens=8), {"ngram": row}, skipped="no CUDA device")
    assert doc["figures"] == {"ngram tok/s": 100.0, "ngram acceptance": 0.5, "ngram identical greedy": True,
                              "ngram speedup": 1.5}  # fmt: skip
    assert "texts" not in doc["variants"]["ngram"]
