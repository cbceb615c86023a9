"""From one step to the next the cluster paths line up: data prep writes the parquet the verl config reads, on the
shared volume; SFT's merged model is exactly the folder RLVR starts from; RLVR's merged model is the folder the
chart's trained-model values serve; the core objects (claim, ConfigMap) are valid Kubernetes."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

import kubernetes_validate
import pytest
import yaml

from k2core.training.config import load_config
from k2core.training.launch import merged_hf_dir
from k2core.training.rayjob import manifests_for_file
from k2core.training.verl_config import build_verl_config

REPO = Path(__file__).resolve().parents[2]
JOBS = REPO / "training-jobs"
SERVED = REPO / "charts" / "k2think" / "ci" / "trained-model-values.yaml"


def job(kind: str):
    return load_config(JOBS / kind / "config.yaml")


def on_volume(path: str, kind: str) -> PurePosixPath:
    """``path`` relative to the shared volume's mount (fails when it is not on the volume)."""
    return PurePosixPath(path).relative_to(job(kind).cluster.mount_path)


@pytest.mark.parametrize("kind", ["sft", "rlvr"])
def test_data_prep_checkpoints_and_merged_model_are_on_the_shared_volume(kind):
    config = job(kind)
    verl = build_verl_config(config)
    train_files = verl.data.train_files
    assert PurePosixPath(train_files).parent == PurePosixPath(config.data.dir)
    for path in (train_files, verl.data.val_files, config.checkpoint.uri, merged_hf_dir(config)):
        on_volume(path, kind)
    assert merged_hf_dir(config) == f"{config.checkpoint.uri}/hf"


def test_rlvr_starts_from_exactly_the_folder_sft_merges_into():
    sft, rlvr = job("sft"), job("rlvr")
    assert rlvr.model == merged_hf_dir(sft)
    assert build_verl_config(rlvr).actor_rollout_ref.model.path == merged_hf_dir(sft)
    assert sft.cluster.volume == rlvr.cluster.volume and sft.cluster.mount_path == rlvr.cluster.mount_path


def test_the_chart_serves_the_folder_rlvr_merges_into():
    served = yaml.safe_load(SERVED.read_text())
    rlvr = job("rlvr")
    assert served["modelVolume"]["existingClaim"] == rlvr.cluster.volume.claim
    model_paths = {v["modelPath"] for v in served.values() if isinstance(v, dict) and v.get("modelPath")}
    assert model_paths == {str(on_volume(merged_hf_dir(rlvr), "rlvr"))}


@pytest.mark.parametrize("kind", ["sft", "rlvr"])
def test_claim_and_configmap_are_valid_kubernetes(kind):
    path = JOBS / kind / "config.yaml"
    claim, configmap, _ = manifests_for_file(load_config(path), path)
    for obj in (claim, configmap):
        kubernetes_validate.validate(obj, "1.37.0", strict=True)
