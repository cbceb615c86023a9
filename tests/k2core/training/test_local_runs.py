"""Real local runs on the embedded Qwen2.5-Coder-0.5B-Instruct (slow): SFT loss falls, resumes and merges into
``<out>/hf``; an RLVR run killed after a checkpoint is rerun with the same config and resumes from it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from services.cli import app

from .conftest import REPO

pytestmark = pytest.mark.slow

RLVR_JOB = """\
kind: rlvr
name: test-rlvr
reward: {format_weight: 0.2}
local:
  steps: 3
  batch: 2
  n: 2
  micro_batch: 2  # the update's four responses in two forward/backward passes
  max_new_tokens: 8
  lr: 5.0e-4
  rollout_workers: 1
  checkpoint: {every: 1, keep: 2}
  fewshot:
    - user: "What is 2 + 3?"
      assistant: "<think>\\n2 + 3 = 5\\n</think>\\n\\n\\\\boxed{5}"
"""

SFT_JOB = """\
kind: sft
name: test-sft
local:
  dataset: gsm8k_train
  limit: 2
  steps: 3
  batch: 2
  max_length: 160
  lr: 1.0e-3
  checkpoint: {every: 2, keep: 2}
"""


@pytest.fixture(scope="module", autouse=True)
def hf_model() -> Path:
    """Convert the GGUF once (about a minute on first use; cached afterwards)."""
    from k2core.config import Settings
    from k2core.training.hf_model import ensure_hf_model

    return ensure_hf_model(Settings())


def job_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "job.yaml"
    path.write_text(text)
    return path


def test_local_sft_loss_falls_and_a_rerun_resumes(tmp_path):
    runner = CliRunner()
    args = [
        "train",
        "sft",
        "--config",
        str(job_file(tmp_path, SFT_JOB)),
        "--local",
        "--out",
        str(tmp_path / "run"),
        "--json",
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    records = [json.loads(line) for line in Path(summary["metrics"]).read_text().splitlines()]
    assert [r["step"] for r in records] == [1, 2, 3]
    assert records[-1]["loss"] < records[0]["loss"], [r["loss"] for r in records]
    assert Path(summary["curve"]).read_bytes()[:4] == b"\x89PNG"
    assert summary["resumed_from"] == 0 and summary["checkpoint"].endswith("step_3")
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= {p.name for p in Path(summary["hf"]).iterdir()}

    result = runner.invoke(app, [*args, "--steps", "4"])
    assert result.exit_code == 0, result.output
    again = json.loads(result.stdout)
    assert again["resumed_from"] == 3 and again["checkpoint"].endswith("step_4")
    assert sorted(p.name for p in (tmp_path / "run" / "checkpoints").iterdir()) == ["step_3", "step_4"]


def test_local_rlvr_killed_after_a_checkpoint_resumes(tmp_path):
    out = tmp_path / "run"
    command = [sys.executable, "-m", "services.cli", "train", "rlvr", "--config", str(job_file(tmp_path, RLVR_JOB)),
               "--local", "--out", str(out), "--json"]  # fmt: skip
    first = subprocess.Popen(command, cwd=REPO, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 600
        while not (out / "checkpoints" / "step_1" / "state.pt").exists():
            assert first.poll() is None, first.stderr.read().decode()[-3000:]
            assert time.monotonic() < deadline, "no checkpoint within 10 minutes"
            time.sleep(0.5)
    finally:
        os.killpg(first.pid, signal.SIGKILL)  # the run and the Ray processes it started
        first.wait()
    killed_at = max(int(p.name.split("_")[1]) for p in (out / "checkpoints").glob("step_*"))
    assert killed_at < 3, "the first run was killed before it finished"

    second = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=900)
    assert second.returncode == 0, second.stderr[-3000:]
    summary = json.loads(second.stdout)
    assert summary["resumed_from"] == killed_at
    records = [json.loads(line) for line in Path(summary["metrics"]).read_text().splitlines()]
    assert [r["step"] for r in records] == [1, 2, 3]
    for record in records:
        assert 0.0 <= record["reward_mean"] <= 1.0 and record["response_length"] > 0
        assert {"kl", "entropy", "loss", "tokens_per_s", "accuracy"} <= record.keys()
    assert records[0]["kl"] == pytest.approx(0.0, abs=1e-6), "LoRA starts at the reference policy"
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["step_2", "step_3"]
    assert Path(summary["curve"]).is_file()
