"""The local model loop end to end on a tiny slice (slow): traces -> SFT -> RLVR from the SFT output -> export;
the exported GGUF loads in the embedded engine and answers, the manifest's hashes match the files, and the traces
and export steps resume after a kill (SFT and RLVR resume: test_local_runs)."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from k2core.config import EngineSettings, Settings
from k2core.engines import build_engine
from k2core.models import file_sha256 as sha256
from k2core.types import Message, SamplingParams

from .conftest import REPO

pytestmark = pytest.mark.slow

SFT_JOB = """\
kind: sft
name: chain-sft
local:
  dataset: gsm8k_train
  limit: 2
  traces: {traces}
  steps: 2
  batch: 2
  max_length: 160
  lr: 1.0e-3
  checkpoint: {{every: 1, keep: 2}}
"""

RLVR_JOB = """\
kind: rlvr
name: chain-rlvr
reward: {{format_weight: 0.2}}
local:
  model: {model}
  dataset: "gen:arith"
  steps: 2
  batch: 1
  n: 2
  max_new_tokens: 8
  rollout_workers: 1
  checkpoint: {{every: 1, keep: 2}}
"""


def k2think(*args: str) -> list[str]:
    return [sys.executable, "-m", "services.cli", *args, "--json"]


def run(command: list[str]) -> dict:
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def kill_when(command: list[str], ready: Callable[[], bool]) -> None:
    """Start ``command`` and SIGKILL its process group as soon as ``ready()`` holds."""
    process = subprocess.Popen(
        command, cwd=REPO, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 1200
        while not ready():
            assert process.poll() is None, process.stderr.read().decode()[-3000:]
            assert time.monotonic() < deadline, "the step never got there"
            time.sleep(0.2)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.is_file() else []


@pytest.fixture(scope="module")
def chain(tmp_path_factory) -> Iterator[dict]:
    """Run the whole chain once; its folders (several GB of weights) are removed afterwards."""
    root = tmp_path_factory.mktemp("chain")
    traces = k2think("traces", "--dataset", "gen:arith", "--limit", "2", "--samples", "2", "--keep", "1",
                     "--max-samples", "4", "--max-tokens", "96", "--out", str(root / "traces"))  # fmt: skip
    kill_when(traces, lambda: len(lines(root / "traces" / "metrics.jsonl")) >= 1)
    result = {"traces": run(traces)}
    (root / "sft.yaml").write_text(SFT_JOB.format(traces=result["traces"]["traces"]))
    sft = k2think("train", "sft", "--config", str(root / "sft.yaml"), "--local", "--out", str(root / "sft"))
    result["sft"] = run(sft)
    (root / "rlvr.yaml").write_text(RLVR_JOB.format(model=result["sft"]["hf"]))
    rlvr = k2think("train", "rlvr", "--config", str(root / "rlvr.yaml"), "--local", "--out", str(root / "rlvr"))
    result["rlvr"] = run(rlvr)
    export = k2think("export", "--run", str(root / "rlvr"), "--out", str(root / "export"))
    kill_when(export, lambda: (root / "export" / "hf" / "config.json").is_file())
    result["hf_written_ns"] = (root / "export" / "hf" / "model.safetensors").stat().st_mtime_ns
    result["export"] = run(export)
    result["root"] = root
    yield result
    shutil.rmtree(root, ignore_errors=True)


def test_traces_resume_after_a_kill_without_duplicates(chain):
    summary, out = chain["traces"], chain["root"] / "traces"
    assert summary["resumed_from"] == 1 and summary["problems"] == 2
    assert [r["step"] for r in lines(out / "metrics.jsonl")] == [1, 2]
    rows = lines(out / "traces.jsonl")
    assert len(rows) == summary["kept"] == sum(r["kept"] for r in lines(out / "metrics.jsonl"))
    for record in lines(out / "metrics.jsonl"):  # adaptive: rounds of 2 up to 4, one verified trace kept at most
        assert record["kept"] == min(1, record["verified"]) and record["samples"] in (2, 4)
    for row in rows:
        assert row["messages"][-1]["role"] == "assistant" and "</think>" in row["messages"][-1]["content"]


def test_rlvr_starts_from_the_sft_output_and_the_lineage_says_so(chain):
    manifest = chain["export"]
    assert [e["kind"] for e in manifest["lineage"]] == ["sft", "rlvr"]
    sft, rlvr = manifest["lineage"]
    assert sft["traces"]["sha256"] == sha256(Path(chain["traces"]["traces"]))
    assert len(sft["curve"]["loss"]) == 2 and len(rlvr["curve"]["reward_mean"]) == 2
    assert json.loads((chain["root"] / "rlvr" / "run.json").read_text())["model_dir"] == chain["sft"]["hf"]
    assert manifest["base_model"]["sha256"] == "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"


def test_export_resumes_after_a_kill_and_the_manifest_hashes_match(chain):
    out = chain["root"] / "export"
    assert (out / "hf" / "model.safetensors").stat().st_mtime_ns == chain["hf_written_ns"], "the rerun kept hf/"
    assert "hf" not in [r["stage"] for r in lines(out / "metrics.jsonl")][1:], "no stage runs twice"
    assert not (out / "model-f16.gguf").exists() and not list(out.glob(".*.tmp")), "no intermediate file is left"
    manifest = json.loads((out / "manifest.json").read_text())
    expected = {"hf/model.safetensors", "hf/tokenizer.json", "hf/config.json", "model-q4_k_m.gguf"}
    assert expected <= manifest["files"].keys()
    for name, entry in manifest["files"].items():
        assert sha256(out / name) == entry["sha256"] and (out / name).stat().st_size == entry["bytes"], name
    assert (out / "curve.png").read_bytes()[:4] == b"\x89PNG"


def test_the_exported_gguf_serves_through_the_embedded_engine(chain):
    gguf = chain["root"] / "export" / "model-q4_k_m.gguf"
    assert chain["export"]["serve"] == f"K2_SOLVER__EMBEDDED__MODEL_PATH={gguf}", "the path as --out gave it"
    settings = EngineSettings.model_validate({"embedded": {"model_path": str(gguf), "n_ctx": 1024}})

    async def answer() -> str:
        engine = build_engine(settings, cache_dir=Settings().cache_dir)
        try:
            (completion,) = await engine.generate(
                [Message(role="user", content="What is 7 + 5? Put the answer in \\boxed{}.")],
                SamplingParams(temperature=0.0, max_tokens=32, seed=1),
            )
            return completion.text
        finally:
            await engine.close()

    assert asyncio.run(answer()).strip()
