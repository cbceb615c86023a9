"""RLVR on this machine: rollouts from Ray actors, rewards from ``k2core.rewards``, GRPO updates from verl's
functions, hyper-parameters from the same resolved verl config the cluster job uses."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from rich.console import Console

from k2core.config import Settings
from k2core.data import Problem, data_dir, load_dataset
from k2core.data.decontam import decontaminate
from k2core.rewards import compute_score, score_details
from k2core.training.chat import prompt_ids, prompt_messages
from k2core.training.config import LoraConfig, TrainConfig
from k2core.training.grpo import build_batch, grpo_backward
from k2core.training.hf_model import load_policy, load_tokenizer, resolve_model_dir, stop_token_ids, trainable_state
from k2core.training.local_run import LocalRun, seed_everything, start_ray, take
from k2core.training.metrics import thirds
from k2core.training.precision import Resolved, compute, lower_frozen
from k2core.training.rollout import RolloutWorker
from k2core.training.verl_config import build_verl_config

CURVE_KEYS = ("reward_mean", "accuracy", "kl", "entropy", "response_length")


@dataclass
class Setup:
    """Everything a step needs: verl's actor/algorithm/rollout settings, the task, the policy and optimizer."""

    config: TrainConfig
    model_dir: Path
    actor: Any
    algorithm: Any
    rollout: Any
    tokenizer: Any
    problems: list[Problem]
    prompts: list[list[int]]
    model: Any
    reference: Any
    optimizer: torch.optim.Optimizer
    precision: Resolved


def _setup(config: TrainConfig, model_dir: Path, data_dir: Path | None, precision: Resolved) -> Setup:
    from verl.utils.config import omega_conf_to_dataclass

    local = config.local
    if not local.dataset:
        raise ValueError("local.dataset: RLVR needs a dataset with verifiable answers")
    verl_config = build_verl_config(config)
    actor = omega_conf_to_dataclass(verl_config.actor_rollout_ref.actor)
    tokenizer = load_tokenizer(model_dir)
    loaded = load_dataset(local.dataset, local.limit, local.seed, data_dir)
    problems = decontaminate(local.dataset, loaded, config.data.drop_overlaps, data_dir)
    model = load_policy(model_dir, local.lora, precision)
    reference = None
    if not local.lora.enabled and actor.use_kl_loss:
        reference = load_policy(model_dir, LoraConfig(enabled=False)).eval().requires_grad_(False)
        reference = lower_frozen(reference, precision)
    optimizer = torch.optim.AdamW(
        [p for p in model.parameters() if p.requires_grad],
        lr=local.lr,
        betas=tuple(actor.optim.betas),
        weight_decay=actor.optim.weight_decay,
    )
    return Setup(
        config=config,
        model_dir=model_dir,
        actor=actor,
        algorithm=omega_conf_to_dataclass(verl_config.algorithm),
        rollout=verl_config.actor_rollout_ref.rollout,
        tokenizer=tokenizer,
        problems=problems,
        prompts=[prompt_ids(tokenizer, prompt_messages(p.prompt, local.fewshot)) for p in problems],
        model=model,
        reference=reference,
        optimizer=optimizer,
        precision=precision,
    )


def _start_workers(setup: Setup) -> list[Any]:
    """Rollout actors on a local Ray cluster, each with its own copy of the policy."""
    import ray

    local, tokenizer = setup.config.local, setup.tokenizer
    start_ray(local.rollout_workers)
    stop_ids = stop_token_ids(setup.model_dir)
    threads = max(1, local.threads // local.rollout_workers)
    actor = ray.remote(num_cpus=1)(RolloutWorker)
    lora = local.lora.model_dump()
    return [
        actor.remote(str(setup.model_dir), lora, threads, stop_ids, tokenizer.pad_token_id, setup.precision)
        for _ in range(local.rollout_workers)
    ]


def _rollouts(setup: Setup, workers: list[Any], prompts: list[list[int]], step: int) -> list[list[int]]:
    """Push the current weights, then sample ``n`` responses per prompt, one contiguous shard per worker; the
    responses of prompt ``i`` are ``[i * n, (i + 1) * n)``."""
    import ray

    local, rollout = setup.config.local, setup.rollout
    weights = ray.put(trainable_state(setup.model))
    ray.get([w.sync.remote(weights) for w in workers])
    size = -(-len(prompts) // len(workers))
    futures = [
        worker.generate.remote(
            prompts[start : start + size],
            local.n,
            local.max_new_tokens,
            rollout.temperature,
            rollout.top_p,
            local.seed * 1_000_003 + step * 101 + k,
        )
        for k, (worker, start) in enumerate(zip(workers, range(0, len(prompts), size)))
    ]
    return [response for part in ray.get(futures) for response in part]


def _score(setup: Setup, problem: Problem, text: str) -> tuple[float, bool]:
    """The training reward (format + correctness) and whether the answer is correct."""
    source = setup.config.local.dataset or problem.domain  # always set (checked in setup); the domain types it
    reward = compute_score(source, text, problem.answer, format_weight=setup.config.reward.format_weight)
    return reward, score_details(source, text, problem.answer).correct


def _step(setup: Setup, workers: list[Any], chosen: list[int], step: int) -> dict[str, float]:
    """Sample, score, and apply one GRPO update; returns the step's metrics."""
    local, tokenizer = setup.config.local, setup.tokenizer
    began = time.perf_counter()
    responses = _rollouts(setup, workers, [setup.prompts[i] for i in chosen], step)
    rollout_s = time.perf_counter() - began
    groups = [g for g in range(len(chosen)) for _ in range(local.n)]
    texts = tokenizer.batch_decode(responses, skip_special_tokens=True)
    scored = [_score(setup, setup.problems[chosen[g]], text) for g, text in zip(groups, texts)]
    prompts = [setup.prompts[chosen[g]] for g in groups]
    batch = build_batch(prompts, responses, [s[0] for s in scored], groups, tokenizer.pad_token_id)
    setup.model.train()
    setup.optimizer.zero_grad()
    metrics = grpo_backward(
        setup.model, setup.reference, batch, setup.actor, setup.algorithm, setup.rollout.temperature,
        micro_rows=local.micro_batch, forward_context=lambda: compute(setup.precision),
    )  # fmt: skip
    params = [p for p in setup.model.parameters() if p.requires_grad]
    grad_norm = torch.nn.utils.clip_grad_norm_(params, setup.actor.optim.clip_grad)
    setup.optimizer.step()
    generated = sum(len(r) for r in responses)
    return {
        "reward_mean": float(batch.rewards.mean()),
        "reward_std": float(batch.rewards.std()),
        "accuracy": sum(s[1] for s in scored) / len(scored),
        "response_length": generated / len(responses),
        "tokens_per_s": generated / rollout_s,
        "grad_norm": float(grad_norm),
        "rollout_s": rollout_s,
        "step_s": time.perf_counter() - began,
        **metrics,
    }


def run_local_rlvr(
    config: TrainConfig,
    settings: Settings,
    steps: int | None = None,
    out: Path | None = None,
    console: Console | None = None,
) -> dict[str, Any]:
    """Train LoRA adapters (or all weights) with GRPO on ``config.local.dataset`` (model cache and data from
    ``settings``), resuming from the newest checkpoint; returns paths and the mean reward of the first and last
    thirds of the steps."""
    import ray

    local = config.local
    steps = steps or local.steps
    model_dir = resolve_model_dir(local.model, settings)
    run = LocalRun(config, model_dir, steps, Path(out or local.out), console or Console(stderr=True))
    seed_everything(local.seed)
    torch.set_num_threads(local.threads)
    setup = _setup(config, model_dir, data_dir(settings), run.precision)
    start, position = run.resume(setup.model, setup.optimizer)
    workers = _start_workers(setup) if start < steps else []
    try:
        with run.progress("rlvr", start) as advance:
            for step in range(start + 1, steps + 1):
                chosen = take(len(setup.problems), position, local.batch, local.seed)
                position += local.batch
                record = _step(setup, workers, chosen, step)
                run.end_step(step, record, setup.model, setup.optimizer, position)
                advance(f"reward {record['reward_mean']:.3f} kl {record.get('kl', 0.0):.4f}")
    finally:
        for worker in workers:
            ray.kill(worker)
    summary = run.finish(CURVE_KEYS, f"RLVR (GRPO) on {local.dataset}: {run.model_label}")
    first, last = thirds([r["reward_mean"] for r in summary.pop("records")] or [0.0])
    return {"kind": "rlvr", "steps": steps, "resumed_from": start, "reward_first_third": first,
            "reward_last_third": last, **summary}  # fmt: skip
