"""One GRPO update on a batch of rollouts, with verl's own advantage, policy-loss, KL and aggregation functions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from k2core.training.forward import response_logits


@dataclass
class RolloutBatch:
    """Prompts (left-padded) followed by responses (right-padded), one row per sampled response."""

    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    response_mask: torch.Tensor
    rewards: torch.Tensor
    group: np.ndarray

    @property
    def response_len(self) -> int:
        return self.response_mask.shape[1]

    @property
    def responses(self) -> torch.Tensor:
        return self.input_ids[:, -self.response_len :]


def build_batch(
    prompts: list[list[int]], responses: list[list[int]], rewards: list[float], group: list[int], pad_id: int
) -> RolloutBatch:
    """Pack one prompt per response (repeated for its group) and the responses into a RolloutBatch."""
    p_len, r_len = max(len(p) for p in prompts), max(1, max(len(r) for r in responses))
    rows = len(responses)
    ids = torch.full((rows, p_len + r_len), pad_id, dtype=torch.long)
    attention = torch.zeros((rows, p_len + r_len), dtype=torch.long)
    for row, (prompt, response) in enumerate(zip(prompts, responses)):
        ids[row, p_len - len(prompt) : p_len] = torch.tensor(prompt)
        attention[row, p_len - len(prompt) : p_len] = 1
        ids[row, p_len : p_len + len(response)] = torch.tensor(response, dtype=torch.long)
        attention[row, p_len : p_len + len(response)] = 1
    return RolloutBatch(
        ids, attention, attention[:, p_len:].clone(), torch.tensor(rewards, dtype=torch.float32), np.array(group)
    )


def outcome_rewards(batch: RolloutBatch) -> torch.Tensor:
    """verl's token-level reward layout: each sequence's score on its last response token."""
    token_rewards = torch.zeros(batch.response_mask.shape, dtype=torch.float32)
    last = (batch.response_mask.sum(-1) - 1).clamp(min=0)
    token_rewards[torch.arange(len(last)), last] = batch.rewards
    return token_rewards


def token_log_probs(
    model: Any, batch: RolloutBatch, temperature: float, entropy_grad: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-token log-probabilities of the responses and the policy entropy at each response position (with a
    gradient only when an entropy bonus needs one)."""
    from verl.utils.torch_functional import entropy_from_logits, logprobs_from_logits

    logits = response_logits(model, batch.input_ids, batch.attention_mask, batch.response_len, temperature)
    log_prob = logprobs_from_logits(logits, batch.responses)
    with torch.set_grad_enabled(entropy_grad and torch.is_grad_enabled()):
        entropy = entropy_from_logits(logits)
    return log_prob, entropy


def reference_log_probs(model: Any, reference: Any, batch: RolloutBatch, temperature: float) -> torch.Tensor:
    """Log-probabilities under the reference policy: the base weights (adapters disabled) or a frozen copy."""
    with torch.no_grad():
        if reference is None:
            with model.disable_adapter():
                return token_log_probs(model, batch, temperature)[0]
        return token_log_probs(reference, batch, temperature)[0]


def grpo_loss(
    model: Any, reference: Any, batch: RolloutBatch, actor: Any, algorithm: Any, temperature: float
) -> tuple[torch.Tensor, dict[str, float]]:
    """The actor loss (clipped policy loss + KL loss - entropy bonus) and its metrics; ``actor`` and
    ``algorithm`` are verl's ActorConfig and AlgoConfig built from the resolved verl config."""
    from verl.trainer.ppo.core_algos import agg_loss, compute_grpo_outcome_advantage, get_policy_loss_fn, kl_penalty
    from verl.utils.torch_functional import masked_mean

    mask = batch.response_mask.float()
    advantages, _ = compute_grpo_outcome_advantage(
        outcome_rewards(batch), mask, batch.group, norm_adv_by_std_in_grpo=algorithm.norm_adv_by_std_in_grpo
    )
    log_prob, entropy = token_log_probs(model, batch, temperature, entropy_grad=bool(actor.entropy_coeff))
    policy_loss = get_policy_loss_fn(actor.policy_loss.loss_mode)
    # One update per batch of fresh rollouts: the behaviour policy is the current one (ratio 1, as verl's
    # first mini-batch), so the old log-probabilities are the current ones without gradient.
    pg_loss, pg_metrics = policy_loss(log_prob.detach(), log_prob, advantages, mask, actor.loss_agg_mode, actor)
    loss = pg_loss
    metrics = {"pg_loss": pg_loss.item(), "entropy": masked_mean(entropy, mask).item()}
    if actor.use_kl_loss:
        ref = reference_log_probs(model, reference, batch, temperature)
        penalty = kl_penalty(log_prob, ref, actor.kl_loss_type)  # type: ignore[arg-type]  # verl's FloatTensor hint
        kl = agg_loss(penalty, mask, actor.loss_agg_mode)
        loss = loss + actor.kl_loss_coef * kl
        metrics["kl"] = kl.item()
    if actor.entropy_coeff:
        loss = loss - actor.entropy_coeff * agg_loss(entropy, mask, actor.loss_agg_mode)
    metrics["loss"] = loss.item()
    metrics["pg_clipfrac"] = pg_metrics.get("actor/pg_clipfrac", 0.0)
    return loss, metrics
