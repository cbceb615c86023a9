"""The quantisation bench's paired GSM8K differences come from ``k2core.eval.compare`` over the kept folders."""

from __future__ import annotations

import json
from pathlib import Path

from bench.quant_bench import paired_to_base

ROOT = Path(__file__).resolve().parents[2]
KEPT = ROOT / "docs" / "eval" / "quant-gsm8k"


def test_paired_to_base_reproduces_the_result_file() -> None:
    folders = {variant: KEPT / f"eval-{variant}" for variant in ("q4_k_m", "q4_0", "q8_0")}
    recorded = json.loads((ROOT / "bench" / "results" / "quant.json").read_text())["paired_to_q4_k_m"]
    assert paired_to_base(folders) == recorded
    assert set(recorded) == {"q4_0", "q8_0"}
