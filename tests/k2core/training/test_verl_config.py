"""verl configs: our overrides compose onto verl's own defaults, pass verl's checks, and unknown keys fail."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path

import pytest

from k2core.training.config import load_config
from k2core.training.verl_config import (
    UnknownConfigKey,
    build_verl_config,
    compose_defaults,
    merge_strict,
    rewards_path,
    to_plain,
    validate_with_verl,
)

from .conftest import REPO


@pytest.fixture(scope="module")
def rlvr():
    return load_config(REPO / "training-jobs" / "rlvr" / "config.yaml")


@pytest.fixture(scope="module")
def sft():
    return load_config(REPO / "training-jobs" / "sft" / "config.yaml")


def test_rlvr_config_is_grpo_with_kl_loss_and_vllm(rlvr):
    verl_config = build_verl_config(rlvr)
    validate_with_verl(verl_config)
    plain = to_plain(verl_config)
    actor = plain["actor_rollout_ref"]["actor"]
    assert plain["algorithm"]["adv_estimator"] == "grpo"
    assert plain["actor_rollout_ref"]["rollout"]["name"] == "vllm"
    assert plain["actor_rollout_ref"]["rollout"]["n"] == 8
    assert (actor["use_kl_loss"], actor["kl_loss_coef"], actor["kl_loss_type"]) == (True, 0.001, "low_var_kl")
    assert plain["data"]["max_response_length"] == 16384
    assert plain["data"]["train_files"] == "/mnt/k2think/data/rlvr/train.parquet"
    assert plain["critic"]["enable"] is False
    trainer = plain["trainer"]
    assert trainer["default_local_dir"] == "/mnt/k2think/checkpoints/k2think-rlvr"
    assert (trainer["save_freq"], trainer["max_actor_ckpt_to_keep"]) == (20, 2)
    assert (trainer["nnodes"], trainer["n_gpus_per_node"]) == (2, 8)
    assert trainer["logger"] == ["console", "tensorboard"]


def test_reward_is_k2core_compute_score_loaded_by_verl(rlvr):
    from verl.trainer.ppo.reward import get_custom_reward_fn

    import k2core.training.verl_reward

    verl_config = build_verl_config(rlvr)
    reward = verl_config.reward.custom_reward_function
    assert Path(reward.path) == Path(k2core.training.verl_reward.__file__).resolve() == Path(rewards_path())
    assert reward.reward_kwargs.format_weight == 0.2
    score = get_custom_reward_fn(verl_config)
    assert score(data_source="gen:arith", solution_str="<think>5+7</think> \\boxed{12}", ground_truth="12") == 1.0
    assert score(data_source="gen:arith", solution_str="<think>5+7</think> \\boxed{13}", ground_truth="12") == 0.2


def test_reward_entry_applies_the_workers_sandbox_settings():
    """verl loads the entry file by path in its reward workers: K2_SANDBOX__* there reach the code grader's sandbox."""
    probe = (
        "import importlib.util, sys; from k2core.training.verl_config import rewards_path;"
        "spec = importlib.util.spec_from_file_location('verl_reward_entry', rewards_path());"
        "module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module);"
        "from k2core.verify.sandbox import default_sandbox;"
        "print(default_sandbox().settings.tmpfs_mb, module.compute_score('gen:arith', '\\\\boxed{12}', '12'))"
    )
    env = {**os.environ, "K2_SANDBOX__TMPFS_MB": "17"}
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True).stdout
    assert out.split() == ["17", "1.0"]


def test_sft_config_composes_on_verl_sft_trainer(sft):
    plain = to_plain(build_verl_config(sft))
    assert plain["data"]["train_files"] == "/mnt/k2think/data/sft/sft_train.parquet"
    assert plain["data"]["messages_key"] == "messages"
    assert plain["model"]["path"] == "Qwen/Qwen2.5-7B-Instruct"
    assert (plain["trainer"]["save_freq"], plain["trainer"]["max_ckpt_to_keep"]) == (200, 2)


@pytest.mark.parametrize("fixture", ["rlvr", "sft"])
def test_unknown_verl_key_is_rejected_with_its_path(fixture, request):
    config = copy.deepcopy(request.getfixturevalue(fixture))
    config.verl.setdefault("trainer", {})["bogus_knob"] = 1
    with pytest.raises(UnknownConfigKey, match=r"trainer\.bogus_knob"):
        build_verl_config(config)


def test_struct_mode_rejects_a_misspelled_nested_key():
    defaults = compose_defaults("rlvr")
    with pytest.raises(UnknownConfigKey, match="kl_los_coef"):
        merge_strict(defaults, {"actor_rollout_ref": {"actor": {"kl_los_coef": 0.1}}}, "test")


def test_verl_rejects_inconsistent_batch_sizes(rlvr):
    config = copy.deepcopy(rlvr)
    config.verl["actor_rollout_ref"]["actor"]["use_dynamic_bsz"] = False
    config.verl["actor_rollout_ref"]["actor"]["ppo_mini_batch_size"] = 4096
    with pytest.raises(ValueError, match="ppo_mini_batch_size"):
        validate_with_verl(build_verl_config(config))
