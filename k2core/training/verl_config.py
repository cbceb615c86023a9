"""verl trainer configs: verl's own defaults composed with Hydra, then our recipe, the fields derived from the
job file and its ``verl:`` overrides, merged in struct mode so an unknown key is an error."""

from __future__ import annotations

import contextlib
import inspect
import sys
from pathlib import Path
from typing import Any

from k2core.training.config import JobKind, TrainConfig

VERL_CONFIG_NAMES: dict[str, str] = {"rlvr": "ppo_trainer", "sft": "sft_trainer_engine"}
SFT_TRAIN_FILE = "sft_train.parquet"
SFT_VAL_FILE = "sft_test.parquet"

# What makes the PPO trainer RLVR: GRPO advantages, a KL loss to the reference policy, vLLM rollouts, and the
# micro-batch sizes verl requires to be set.
RLVR_RECIPE: dict[str, Any] = {
    "algorithm": {"adv_estimator": "grpo", "use_kl_in_reward": False, "norm_adv_by_std_in_grpo": True},
    "actor_rollout_ref": {
        "actor": {
            "use_kl_loss": True,
            "kl_loss_coef": 0.001,
            "kl_loss_type": "low_var_kl",
            "entropy_coeff": 0.0,
            "ppo_micro_batch_size_per_gpu": 2,
        },
        "rollout": {"name": "vllm", "n": 8, "temperature": 1.0, "top_p": 0.95, "log_prob_micro_batch_size_per_gpu": 4},
        "ref": {"log_prob_micro_batch_size_per_gpu": 4},
    },
    "critic": {"enable": False},
}


class UnknownConfigKey(ValueError):
    """An override names a key verl's config does not have."""


def verl_config_dir() -> Path:
    """verl's packaged Hydra config folder."""
    import verl

    return Path(verl.__file__).parent / "trainer" / "config"


def rewards_path() -> str:
    """The reward entry file in the installed package (verl loads ``custom_reward_function`` by path): it applies
    ``K2_SANDBOX__*`` in the worker, then scores with ``k2core.rewards.compute_score``."""
    import k2core.training.verl_reward

    return str(Path(inspect.getfile(k2core.training.verl_reward)).resolve())


def compose_defaults(kind: JobKind) -> Any:
    """verl's default trainer config for a job kind, composed as verl's own ``@hydra.main`` does, struct mode on."""
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    with initialize_config_dir(config_dir=str(verl_config_dir()), version_base=None):
        config = compose(config_name=VERL_CONFIG_NAMES[kind])
    OmegaConf.set_struct(config, True)
    return config


def merge_strict(config: Any, overrides: dict[str, Any], where: str) -> Any:
    """``config`` with ``overrides`` merged; a key verl does not define raises UnknownConfigKey naming it."""
    from omegaconf import OmegaConf
    from omegaconf.errors import ConfigAttributeError, ConfigKeyError

    try:
        merged = OmegaConf.merge(config, overrides)
    except (ConfigKeyError, ConfigAttributeError) as exc:
        key = getattr(exc, "full_key", None) or str(exc).splitlines()[0]
        raise UnknownConfigKey(f"{where}: verl's config has no key {key!r}") from None
    OmegaConf.set_struct(merged, True)
    return merged


def _cluster_size(config: TrainConfig) -> dict[str, int]:
    groups = config.cluster.workers
    gpus = {g.gpus for g in groups}
    if len(gpus) != 1:
        raise ValueError("cluster.workers: every worker group must have the same number of GPUs per pod")
    return {"nnodes": sum(g.replicas for g in groups), "n_gpus_per_node": gpus.pop()}


def _trainer_fields(config: TrainConfig) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "project_name": "k2think",
        "experiment_name": config.name,
        "save_freq": config.checkpoint.every,
        "resume_mode": "auto",
        **_cluster_size(config),
    }
    if config.checkpoint.uri:
        fields["default_local_dir"] = config.checkpoint.uri.removeprefix("file://")
    return fields


def derived_fields(config: TrainConfig) -> dict[str, Any]:
    """The verl fields that follow from the job file: data files, model, reward function, checkpoints, sizes."""
    data_dir = config.data.dir.rstrip("/")
    trainer = _trainer_fields(config)
    if config.kind == "sft":
        return {
            "data": {
                "train_files": f"{data_dir}/{SFT_TRAIN_FILE}",
                "val_files": f"{data_dir}/{SFT_VAL_FILE}",
                "messages_key": "messages",
            },
            "model": {"path": config.model},
            "trainer": {**trainer, "max_ckpt_to_keep": config.checkpoint.keep},
        }
    return {
        "data": {"train_files": f"{data_dir}/train.parquet", "val_files": f"{data_dir}/test.parquet"},
        "actor_rollout_ref": {"model": {"path": config.model}},
        "reward": {"custom_reward_function": {"path": rewards_path(), "name": "compute_score"}},
        "trainer": {**trainer, "max_actor_ckpt_to_keep": config.checkpoint.keep},
    }


def _add_reward_kwargs(verl_config: Any, config: TrainConfig) -> None:
    """``reward_kwargs`` is read by verl but absent from its schema: added explicitly, like Hydra's ``+key=``."""
    from omegaconf import open_dict

    if config.kind == "rlvr" and config.reward.format_weight:
        with open_dict(verl_config):
            verl_config.reward.custom_reward_function.reward_kwargs = {"format_weight": config.reward.format_weight}


def build_verl_config(config: TrainConfig) -> Any:
    """The resolved verl config (an OmegaConf DictConfig in struct mode) for a job file."""
    verl_config = compose_defaults(config.kind)
    if config.kind == "rlvr":
        verl_config = merge_strict(verl_config, RLVR_RECIPE, "recipe")
    verl_config = merge_strict(verl_config, derived_fields(config), "job file")
    verl_config = merge_strict(verl_config, config.verl, "verl")
    _add_reward_kwargs(verl_config, config)
    return verl_config


def validate_with_verl(verl_config: Any) -> None:
    """Run verl's own PPO config checks (dataclass construction and batch-size arithmetic) on an RLVR config;
    verl prints its notices, which go to stderr."""
    from verl.trainer.ppo.utils import need_critic, need_reference_policy
    from verl.utils.config import validate_config

    with contextlib.redirect_stdout(sys.stderr):
        validate_config(verl_config, need_reference_policy(verl_config), need_critic(verl_config))


def to_plain(verl_config: Any) -> dict[str, Any]:
    """The config as plain JSON-ready data with every interpolation resolved."""
    from omegaconf import OmegaConf

    plain = OmegaConf.to_container(verl_config, resolve=True)
    if not isinstance(plain, dict):
        raise TypeError(f"a verl config is a mapping, got {type(plain).__name__}")
    return {str(key): value for key, value in plain.items()}
