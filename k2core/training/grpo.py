"""One GRPO update on a batch of rollouts, with verl's own advantage, policy-loss, KL and aggregation functions."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
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


def grpo_advantages(batch: RolloutBatch, algorithm: Any) -> torch.Tensor:
    """verl's GRPO outcome advantages, normalised within each prompt's group over the whole batch."""
    from verl.trainer.ppo.core_algos import compute_grpo_outcome_advantage

    advantages, _ = compute_grpo_outcome_advantage(
        outcome_rewards(batch), batch.response_mask.float(), batch.group,
        norm_adv_by_std_in_grpo=algorithm.norm_adv_by_std_in_grpo,
    )  # fmt: skip
    return advantages


def rows(batch: RolloutBatch, part: slice) -> RolloutBatch:
    """The rows ``part`` of a batch (same padding, so the response positions line up)."""
    return RolloutBatch(batch.input_ids[part], batch.attention_mask[part], batch.response_mask[part],
                        batch.rewards[part], batch.group[part])  # fmt: skip


def global_batch_info(batch: RolloutBatch) -> dict[str, int]:
    """What verl's ``agg_loss`` needs to aggregate a micro-batch as its share of the whole batch's loss."""
    tokens = batch.response_mask.sum(-1)
    return {"dp_size": 1, "batch_num_tokens": int(tokens.sum()), "global_batch_size": int((tokens > 0).sum())}


def grpo_loss(
    model: Any,
    reference: Any,
    batch: RolloutBatch,
    actor: Any,
    algorithm: Any,
    temperature: float,
    advantages: torch.Tensor | None = None,
    whole: dict[str, int] | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """The actor loss (clipped policy loss + KL loss - entropy bonus) and its metrics; ``actor`` and
    ``algorithm`` are verl's ActorConfig and AlgoConfig built from the resolved verl config. For a micro-batch,
    ``advantages`` come from the whole batch and ``whole`` (``global_batch_info`` of it) makes the loss this
    part's share of the whole batch's, so the parts' gradients add up to the whole batch's."""
    from verl.trainer.ppo.core_algos import agg_loss, get_policy_loss_fn, kl_penalty
    from verl.utils.torch_functional import masked_sum

    mask = batch.response_mask.float()
    advantages = grpo_advantages(batch, algorithm) if advantages is None else advantages
    info = whole if whole is not None else global_batch_info(batch)
    saved = dict(actor.global_batch_info)
    actor.global_batch_info.clear()
    actor.global_batch_info.update(info)  # verl's policy losses aggregate with these
    try:
        log_prob, entropy = token_log_probs(model, batch, temperature, entropy_grad=bool(actor.entropy_coeff))
        policy_loss = get_policy_loss_fn(actor.policy_loss.loss_mode)
        # One update per batch of fresh rollouts: the behaviour policy is the current one (ratio 1, as verl's
        # first mini-batch), so the old log-probabilities are the current ones without gradient.
        pg_loss, pg_metrics = policy_loss(log_prob.detach(), log_prob, advantages, mask, actor.loss_agg_mode, actor)
    finally:
        actor.global_batch_info.clear()
        actor.global_batch_info.update(saved)
    tokens = max(info["batch_num_tokens"], 1)
    share = float(mask.sum()) / tokens  # this part's share of the whole batch's response tokens
    loss = pg_loss
    metrics = {"pg_loss": pg_loss.item(), "entropy": (masked_sum(entropy, mask) / tokens).item(),
               "pg_clipfrac": float(pg_metrics.get("actor/pg_clipfrac", 0.0)) * share}  # fmt: skip
    if actor.use_kl_loss:
        ref = reference_log_probs(model, reference, batch, temperature)
        penalty = kl_penalty(log_prob, ref, actor.kl_loss_type)  # type: ignore[arg-type]  # verl's FloatTensor hint
        kl = agg_loss(penalty, mask, actor.loss_agg_mode, **info)
        loss = loss + actor.kl_loss_coef * kl
        metrics["kl"] = kl.item()
    if actor.entropy_coeff:
        loss = loss - actor.entropy_coeff * agg_loss(entropy, mask, actor.loss_agg_mode, **info)
    metrics["loss"] = loss.item()
    return loss, metrics


def grpo_backward(
    model: Any, reference: Any, batch: RolloutBatch, actor: Any, algorithm: Any, temperature: float,
    micro_rows: int | None = None, forward_context: Callable[[], AbstractContextManager[Any]] = nullcontext,
) -> dict[str, float]:  # fmt: skip
    """Accumulate the GRPO loss's gradient over micro-batches of ``micro_rows`` rows (all at once when None):
    advantages and the loss's normalisers come from the whole batch, so the gradient is the whole batch's while
    only one micro-batch's activations and logits are alive at a time. Forwards run inside ``forward_context()``
    (CPU autocast for bf16), backwards outside it. Returns the whole batch's metrics."""
    advantages, whole = grpo_advantages(batch, algorithm), global_batch_info(batch)
    size = len(batch.rewards)
    step = size if micro_rows is None else max(1, micro_rows)
    totals: dict[str, float] = {}
    for begin in range(0, size, step):
        part = slice(begin, min(begin + step, size))
        with forward_context():
            loss, metrics = grpo_loss(model, reference, rows(batch, part), actor, algorithm, temperature,
                                      advantages=advantages[part], whole=whole)  # fmt: skip
        loss.backward()
        for key, value in metrics.items():  # every metric is this part's share of the whole batch's
            totals[key] = totals.get(key, 0.0) + value
    return totals
