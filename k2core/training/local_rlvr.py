"""RLVR on this machine: rollouts from Ray actors, rewards from ``k2core.rewards``, GRPO updates from verl's
functions, hyper-parameters from the same resolved verl config the cluster job uses."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch
from rich.console import Console

from k2core.data import Problem, load_dataset
from k2core.rewards import compute_score, score_details
from k2core.training.chat import prompt_ids, prompt_messages
from k2core.training.config import LoraConfig, TrainConfig
from k2core.training.grpo import build_batch, grpo_loss
from k2core.training.hf_model import ensure_hf_model, load_policy, load_tokenizer, trainable_state
from k2core.training.local_run import LocalRun, seed_everything, start_ray, take
from k2core.training.metrics import thirds
from k2core.training.rollout import RolloutWorker
from k2core.training.verl_config import build_verl_config

CURVE_KEYS = ("reward_mean", "accuracy", "kl", "entropy", "response_length")


def _verl_parts(config: TrainConfig) -> tuple[Any, Any, Any]:
    """verl's ActorConfig, AlgoConfig and rollout section from the resolved config."""
    from verl.utils.config import omega_conf_to_dataclass

    verl_config = build_verl_config(config)
    actor = omega_conf_to_dataclass(verl_config.actor_rollout_ref.actor)
    return actor, omega_conf_to_dataclass(verl_config.algorithm), verl_config.actor_rollout_ref.rollout


def _start_workers(config: TrainConfig, model_dir: Path, stop_ids: list[int], pad_id: int) -> list[Any]:
    import ray

    local = config.local
    start_ray(local.rollout_workers)
    threads = max(1, local.threads // local.rollout_workers)
    actor = ray.remote(num_cpus=1)(RolloutWorker)
    return [
        actor.remote(str(model_dir), local.lora.model_dump(), threads, stop_ids, pad_id)
        for _ in range(local.rollout_workers)
    ]


def _rollouts(
    workers: list[Any], model: Any, prompts: list[list[int]], config: TrainConfig, rollout: Any, step: int
) -> list[list[int]]:
    """Push the current weights, then sample ``n`` responses per prompt, contiguous shards per worker; the
    responses of prompt ``i`` are ``[i * n, (i + 1) * n)``."""
    import ray

    weights = ray.put(trainable_state(model))
    ray.get([w.sync.remote(weights) for w in workers])
    size = -(-len(prompts) // len(workers))
    local = config.local
    futures = [
        w.generate.remote(
            prompts[start : start + size], local.n, local.max_new_tokens, rollout.temperature, rollout.top_p,
            local.seed * 1_000_003 + step * 101 + k,
        )
        for k, (w, start) in enumerate(zip(workers, range(0, len(prompts), size)))
    ]
    return [response for part in ray.get(futures) for response in part]


def _score(config: TrainConfig, problem: Problem, text: str) -> tuple[float, bool]:
    reward = compute_score(config.local.dataset, text, problem.answer, format_weight=config.reward.format_weight)
    return reward, score_details(config.local.dataset, text, problem.answer).correct


def run_local_rlvr(
    config: TrainConfig, steps: int | None = None, out: Path | None = None, console: Console | None = None
) -> dict[str, Any]:
    """Train LoRA adapters (or all weights) with GRPO on ``config.local.dataset``; resumes from the newest
    checkpoint; returns paths and the first-third / last-third mean reward."""
    import ray

    local = config.local
    console = console or Console(stderr=True)
    steps = steps or local.steps
    run = LocalRun(local, steps, Path(out or local.out), console)
    actor, algorithm, rollout = _verl_parts(config)
    seed_everything(local.seed)
    torch.set_num_threads(local.threads)
    model_dir = ensure_hf_model()
    tokenizer = load_tokenizer(model_dir)
    problems = load_dataset(local.dataset, limit=local.limit, seed=local.seed)
    prompts = [prompt_ids(tokenizer, prompt_messages(p.prompt, local.fewshot)) for p in problems]
    stop_ids = [tokenizer.eos_token_id, tokenizer.convert_tokens_to_ids("<end_of_turn>")]
    model = load_policy(model_dir, local.lora)
    reference = None
    if not local.lora.enabled and actor.use_kl_loss:
        reference = load_policy(model_dir, LoraConfig(enabled=False)).eval().requires_grad_(False)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(
        params, lr=local.lr, betas=tuple(actor.optim.betas), weight_decay=actor.optim.weight_decay
    )
    start, position = run.resume(model, optimizer)
    workers = _start_workers(config, model_dir, stop_ids, tokenizer.pad_token_id) if start < steps else []
    try:
        with run.progress("rlvr", start) as advance:
            for step in range(start + 1, steps + 1):
                began = time.perf_counter()
                chosen = take(len(problems), position, local.batch, local.seed)
                position += local.batch
                responses = _rollouts(workers, model, [prompts[i] for i in chosen], config, rollout, step)
                rollout_s = time.perf_counter() - began
                groups = [g for g in range(len(chosen)) for _ in range(local.n)]
                texts = tokenizer.batch_decode(responses, skip_special_tokens=True)
                scored = [_score(config, problems[chosen[g]], t) for g, t in zip(groups, texts)]
                batch = build_batch(
                    [prompts[chosen[g]] for g in groups], responses, [s[0] for s in scored], groups,
                    tokenizer.pad_token_id,
                )
                model.train()
                loss, metrics = grpo_loss(model, reference, batch, actor, algorithm, rollout.temperature)
                optimizer.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(params, actor.optim.clip_grad)
                optimizer.step()
                generated = sum(len(r) for r in responses)
                record = {
                    "reward_mean": float(batch.rewards.mean()),
                    "reward_std": float(batch.rewards.std()),
                    "accuracy": sum(s[1] for s in scored) / len(scored),
                    "response_length": generated / len(responses),
                    "tokens_per_s": generated / rollout_s,
                    "rollout_s": rollout_s,
                    "step_s": time.perf_counter() - began,
                    **metrics,
                }
                run.end_step(step, record, model, optimizer, position)
                advance(f"reward {record['reward_mean']:.3f} kl {record.get('kl', 0.0):.4f}")
    finally:
        for worker in workers:
            ray.kill(worker)
    summary = run.finish(CURVE_KEYS, f"RLVR (GRPO) on {local.dataset}: embedded Gemma 3 270M")
    first, last = thirds([r["reward_mean"] for r in summary["records"]]) if summary["records"] else (0.0, 0.0)
    return {"kind": "rlvr", "steps": steps, "resumed_from": start, "reward_first_third": first,
            "reward_last_third": last, **{k: v for k, v in summary.items() if k != "records"}}
