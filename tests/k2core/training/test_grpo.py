"""The GRPO step on a tiny random Qwen2: verl's advantage, policy-loss, KL and aggregation functions wired to
our rollout batches, LoRA-only gradients, and an update that favours the rewarded response."""

from __future__ import annotations

import pytest
import torch

from k2core.training.config import LoraConfig
from k2core.training.grpo import build_batch, grpo_loss, outcome_rewards, token_log_probs


@pytest.fixture()
def verl_parts():
    from verl.utils.config import omega_conf_to_dataclass

    from k2core.training.config import parse_config
    from k2core.training.verl_config import build_verl_config

    verl_config = build_verl_config(parse_config("kind: rlvr\nname: t\n"))
    return omega_conf_to_dataclass(verl_config.actor_rollout_ref.actor), omega_conf_to_dataclass(verl_config.algorithm)


def lora_model(tiny_model):
    from peft import LoraConfig as PeftLoraConfig
    from peft import get_peft_model

    lora = LoraConfig(rank=4)
    return get_peft_model(tiny_model, PeftLoraConfig(r=lora.rank, lora_alpha=8, target_modules=lora.target_modules))


def test_build_batch_pads_prompts_left_and_responses_right():
    batch = build_batch([[5, 6, 7], [8]], [[9], [10, 11]], [1.0, 0.0], [0, 0], pad_id=0)
    assert batch.input_ids.tolist() == [[5, 6, 7, 9, 0], [0, 0, 8, 10, 11]]
    assert batch.attention_mask.tolist() == [[1, 1, 1, 1, 0], [0, 0, 1, 1, 1]]
    assert batch.response_mask.tolist() == [[1, 0], [1, 1]]
    assert outcome_rewards(batch).tolist() == [[1.0, 0.0], [0.0, 0.0]]


def test_response_log_probs_match_a_full_forward(tiny_model):
    batch = build_batch([[5, 6, 7], [8]], [[9, 12], [10, 11]], [1.0, 0.0], [0, 0], pad_id=0)
    log_prob, entropy = token_log_probs(tiny_model, batch, temperature=1.0)
    from k2core.training.forward import position_ids

    logits = tiny_model(
        input_ids=batch.input_ids, attention_mask=batch.attention_mask, position_ids=position_ids(batch.attention_mask)
    ).logits[:, -3:-1]
    expected = torch.log_softmax(logits, -1).gather(-1, batch.responses.unsqueeze(-1)).squeeze(-1)
    assert torch.allclose(log_prob, expected, atol=1e-5)
    assert entropy.shape == log_prob.shape and (entropy > 0).all()


def test_grpo_update_trains_only_adapters_and_favours_the_rewarded_response(tiny_model, verl_parts):
    actor, algorithm = verl_parts
    model = lora_model(tiny_model)
    prompt = [2, 105, 40, 41]
    batch = build_batch([prompt] * 4, [[50, 51], [60, 61], [50, 51], [60, 61]], [1.0, 0.0, 1.0, 0.0], [0] * 4, 0)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    before, _ = token_log_probs(model, batch, 1.0)
    loss, metrics = grpo_loss(model, None, batch, actor, algorithm, temperature=1.0)
    assert metrics["kl"] == pytest.approx(0.0, abs=1e-6), "LoRA starts at the reference policy"
    loss.backward()
    grads = {n: p.grad for n, p in model.named_parameters() if p.grad is not None}
    assert grads and all("lora_" in n for n in grads)
    for _ in range(5):
        optimizer.step()
        optimizer.zero_grad()
        loss, metrics = grpo_loss(model, None, batch, actor, algorithm, temperature=1.0)
        loss.backward()
    after, _ = token_log_probs(model, batch, 1.0)
    gain = (after - before).sum(-1).detach()
    assert gain[0] > 0 and gain[1] < 0, "rewarded response more likely, unrewarded one less"
    assert metrics["kl"] > 0


def test_full_fine_tuning_uses_a_frozen_reference_copy(tiny_model, verl_parts):
    import copy

    actor, algorithm = verl_parts
    reference = copy.deepcopy(tiny_model).eval().requires_grad_(False)
    batch = build_batch([[2, 105, 40]] * 2, [[50, 51], [60]], [1.0, 0.0], [0, 0], 0)
    loss, metrics = grpo_loss(tiny_model, reference, batch, actor, algorithm, temperature=1.0)
    loss.backward()
    assert metrics["kl"] == pytest.approx(0.0, abs=1e-6)
    assert tiny_model.lm_head.weight.grad is not None and reference.lm_head.weight.grad is None


def _gradients(model) -> dict[str, torch.Tensor]:
    return {n: p.grad.detach().clone() for n, p in model.named_parameters() if p.grad is not None}


@pytest.mark.parametrize("agg_mode", ["token-mean", "seq-mean-token-mean", "seq-mean-token-sum"])
def test_micro_batches_accumulate_the_whole_batchs_gradient(tiny_model, verl_parts, agg_mode):
    from k2core.training.grpo import grpo_backward

    import dataclasses

    actor, algorithm = verl_parts
    actor = dataclasses.replace(actor, loss_agg_mode=agg_mode)
    model = lora_model(tiny_model)
    with torch.no_grad():  # LoRA B starts at 0: move off the reference so the KL term has a gradient too
        for name, param in model.named_parameters():
            if "lora_B" in name:
                param.normal_(std=0.05)
    prompts = [[2, 105, 40, 41]] * 3 + [[2, 7, 8]] * 3
    responses = [[50, 51, 52], [60], [50, 51], [61, 62, 63, 64], [70, 71], [72]]
    batch = build_batch(prompts, responses, [1.0, 0.0, 1.0, 0.0, 0.0, 1.0], [0, 0, 0, 1, 1, 1], 0)
    whole = grpo_backward(model, None, batch, actor, algorithm, temperature=1.0)
    expected = _gradients(model)
    model.zero_grad()
    parts = grpo_backward(model, None, batch, actor, algorithm, temperature=1.0, micro_rows=4)
    got = _gradients(model)
    assert expected and got.keys() == expected.keys()
    for name, grad in expected.items():
        assert torch.allclose(got[name], grad, rtol=1e-4, atol=1e-7), name
    for key in ("loss", "pg_loss", "kl", "entropy"):
        assert parts[key] == pytest.approx(whole[key], rel=1e-4, abs=1e-7), key
    assert whole["kl"] > 0 and actor.global_batch_info == {}, "the actor's batch info is restored"


def test_micro_batched_loss_matches_the_single_call(tiny_model, verl_parts):
    from k2core.training.grpo import grpo_backward

    actor, algorithm = verl_parts
    batch = build_batch([[2, 105, 40]] * 4, [[50, 51], [60], [52], [61, 62]], [1.0, 0.0, 0.0, 1.0], [0] * 4, 0)
    loss, metrics = grpo_loss(tiny_model, copy_of(tiny_model), batch, actor, algorithm, temperature=1.0)
    summed = grpo_backward(tiny_model, copy_of(tiny_model), batch, actor, algorithm, temperature=1.0, micro_rows=1)
    assert summed["loss"] == pytest.approx(loss.item(), rel=1e-5)
    assert summed["entropy"] == pytest.approx(metrics["entropy"], rel=1e-5)


def copy_of(model):
    import copy

    return copy.deepcopy(model).eval().requires_grad_(False)
