"""`k2think train`: --dry-run --json prints the resolved verl config as one object, --emit prints the manifests,
bad job files and flag mixes are errors naming what is wrong."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from services.cli import app

REPO = Path(__file__).resolve().parents[2]
JOBS = REPO / "training-jobs"
runner = CliRunner()


def train(*args: str, **env: str):
    """Invoke ``k2think train`` with a wide terminal so error boxes do not wrap messages."""
    return runner.invoke(app, ["train", *args], env={"COLUMNS": "400", **env})


@pytest.mark.parametrize("kind", ["rlvr", "sft"])
def test_dry_run_json_is_one_resolved_verl_config(kind):
    result = train(kind, "--config", str(JOBS / kind / "config.yaml"), "--dry-run", "--json")
    assert result.exit_code == 0, result.output
    assert result.stdout.count("\n") == 1
    resolved = json.loads(result.stdout)
    assert "${" not in result.stdout, "interpolations are resolved"
    if kind == "rlvr":
        assert resolved["algorithm"]["adv_estimator"] == "grpo"
        assert resolved["reward"]["custom_reward_function"]["name"] == "compute_score"
    else:
        assert resolved["data"]["messages_key"] == "messages"


def test_dry_run_without_json_prints_yaml():
    result = train("sft", "--config", str(JOBS / "sft" / "config.yaml"), "--dry-run")
    assert result.exit_code == 0, result.output
    assert yaml.safe_load(result.stdout)["trainer"]["experiment_name"] == "k2think-sft"


def test_emit_prints_the_committed_manifests():
    result = train("rlvr", "--config", str(JOBS / "rlvr" / "config.yaml"), "--emit")
    assert result.exit_code == 0, result.output
    assert result.stdout == (JOBS / "rlvr" / "rayjob.yaml").read_text()
    result = train("rlvr", "--config", str(JOBS / "rlvr" / "config.yaml"), "--emit", "--json")
    kinds = [m["kind"] for m in json.loads(result.stdout)["manifests"]]
    assert kinds == ["PersistentVolumeClaim", "ConfigMap", "RayJob"]


def test_image_flags_name_the_registry_tag_and_digest_of_both_jobs():
    digest = "sha256:" + "0" * 64
    flags = ["--emit", "--json", "--image-registry", "registry.example/ml", "--image-tag", "1.2"]
    flags += ["--image-digest", digest]
    for kind in ("sft", "rlvr"):
        result = train(kind, "--config", str(JOBS / kind / "config.yaml"), *flags)
        assert result.exit_code == 0, result.output
        rayjob = json.loads(result.stdout)["manifests"][-1]
        head = rayjob["spec"]["rayClusterSpec"]["headGroupSpec"]["template"]["spec"]["containers"][0]
        assert head["image"] == f"registry.example/ml/k2think-train:1.2@{digest}"
    result = train("sft", "--config", str(JOBS / "sft" / "config.yaml"), "--emit", "--image-digest", "latest")
    assert result.exit_code == 2 and "--image-digest" in result.output


def test_unknown_verl_key_is_a_bad_config(tmp_path):
    config = tmp_path / "job.yaml"
    config.write_text("kind: rlvr\nname: t\nverl:\n  trainer:\n    bogus_knob: 1\n")
    result = train("rlvr", "--config", str(config), "--dry-run", "--json")
    assert result.exit_code == 2
    assert "trainer.bogus_knob" in result.output and result.stdout == ""


def test_mismatched_kind_and_mixed_modes_are_errors():
    config = str(JOBS / "sft" / "config.yaml")
    result = train("rlvr", "--config", config, "--dry-run")
    assert result.exit_code == 2 and "is a sft job" in result.output
    result = train("sft", "--config", config, "--emit", "--dry-run")
    assert result.exit_code == 2 and "choose one of" in result.output
    result = train("sft", "--config", config, "--emit", "--steps", "3")
    assert result.exit_code == 2 and "--local runs only" in result.output
    result = train("sft", "--config", config, "--emit", "--model", "runs/sft/hf")
    assert result.exit_code == 2 and "--local runs only" in result.output
    result = train("sft", "--config", config, "--emit", "--threads", "1")
    assert result.exit_code == 2 and "--local runs only" in result.output
    result = train("sft", "--config", config, "--local", "--threads", "0")
    assert result.exit_code == 2 and "--threads" in result.output
    result = train("sft", "--config", config, "--local", "--traces", "/nonexistent.jsonl")
    assert result.exit_code == 2 and "/nonexistent.jsonl does not exist" in result.output
    result = train("sft", "--config", "/nonexistent.yaml", "--emit")
    assert result.exit_code == 2 and "--config" in result.output


def test_submit_without_a_cluster_says_so(tmp_path):
    result = train("sft", "--config", str(JOBS / "sft" / "config.yaml"), "--submit", KUBECONFIG=str(tmp_path / "none"))
    assert result.exit_code == 2 and "kubeconfig" in result.output


def test_local_overrides_replace_only_what_is_given():
    from k2core.training.config import parse_config
    from services.commands.train import _with_local

    job = parse_config((JOBS / "gain" / "sft-tabular.yaml").read_text())
    changed = _with_local(job, {"threads": 1, "model": None, "traces": None})
    assert changed.local.threads == 1 and job.local.threads == 2
    assert changed.local.traces == job.local.traces and changed.local.steps == job.local.steps
