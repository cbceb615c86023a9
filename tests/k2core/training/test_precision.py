"""Mixed precision of the local runs: frozen weights in bf16 under CPU autocast, trained weights and their gradients
fp32, losses within bf16 rounding of the fp32 ones, and a GRPO update that still favours the rewarded response."""

from __future__ import annotations

import pytest
import torch

from k2core.training import precision
from k2core.training.config import LoraConfig, parse_config
from k2core.training.grpo import build_batch, grpo_loss, token_log_probs
from k2core.training.hf_model import load_policy
from k2core.training.local_sft import sft_loss
from k2core.training.rollout import RolloutWorker

from .test_grpo import lora_model


@pytest.fixture()
def model_dir(tiny_model, tokenizer, tmp_path):
    tiny_model.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    return tmp_path


@pytest.mark.parametrize(("native", "expected"), [(True, "bf16"), (False, "fp32")])
def test_auto_follows_native_bf16_support(monkeypatch, native, expected):
    monkeypatch.setattr(precision, "native_bf16", lambda: native)
    assert precision.resolve("auto") == expected
    assert precision.resolve("fp32") == "fp32" and precision.resolve("bf16") == "bf16"


def test_job_files_default_to_auto_and_refuse_other_names():
    assert parse_config("kind: sft\nname: t\n").local.precision == "auto"
    with pytest.raises(ValueError, match="precision"):
        parse_config("kind: sft\nname: t\nlocal: {precision: fp16}\n")


def test_bf16_policy_keeps_adapters_fp32_and_frozen_weights_bf16(model_dir):
    model = load_policy(model_dir, LoraConfig(rank=4), "bf16")
    trained = {p.dtype for p in model.parameters() if p.requires_grad}
    frozen = {p.dtype for p in model.parameters() if not p.requires_grad}
    assert trained == {torch.float32} and frozen == {torch.bfloat16}
    full = load_policy(model_dir, LoraConfig(enabled=False), "bf16")
    assert {p.dtype for p in full.parameters()} == {torch.float32}, "every weight trains: none is lowered"


def test_bf16_sft_loss_is_close_to_fp32_and_its_gradients_are_fp32(tiny_model):
    ids = torch.tensor([[2, 40, 41, 42, 43, 44], [2, 50, 51, 52, 0, 0]])
    attention = torch.tensor([[1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0]])
    loss_mask = torch.tensor([[0, 0, 1, 1, 1, 1], [0, 0, 1, 1, 0, 0]])
    model = lora_model(tiny_model)
    exact = sft_loss(model, ids, attention, loss_mask).item()
    precision.lower_frozen(model, "bf16")
    with precision.compute("bf16"):
        mixed = sft_loss(model, ids, attention, loss_mask)
    assert mixed.dtype == torch.float32
    assert mixed.item() == pytest.approx(exact, rel=0.02)
    mixed.backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None and g.dtype == torch.float32 and torch.isfinite(g).all() for g in grads)


def test_bf16_grpo_update_still_favours_the_rewarded_response(tiny_model):
    from verl.utils.config import omega_conf_to_dataclass

    from k2core.training.verl_config import build_verl_config

    verl_config = build_verl_config(parse_config("kind: rlvr\nname: t\n"))
    actor = omega_conf_to_dataclass(verl_config.actor_rollout_ref.actor)
    algorithm = omega_conf_to_dataclass(verl_config.algorithm)
    model = precision.lower_frozen(lora_model(tiny_model), "bf16")
    batch = build_batch([[2, 105, 40, 41]] * 4, [[50, 51], [60, 61]] * 2, [1.0, 0.0, 1.0, 0.0], [0] * 4, 0)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    with precision.compute("bf16"):
        before, _ = token_log_probs(model, batch, 1.0)
    for _ in range(6):
        with precision.compute("bf16"):
            loss, metrics = grpo_loss(model, None, batch, actor, algorithm, temperature=1.0)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with precision.compute("bf16"):
        after, _ = token_log_probs(model, batch, 1.0)
    gain = (after - before).sum(-1).detach()
    assert gain[0] > 0 and gain[1] < 0
    assert metrics["kl"] >= 0


def test_bf16_rollout_worker_samples_with_synced_fp32_adapters(model_dir):
    trainer = load_policy(model_dir, LoraConfig(rank=4), "bf16")
    worker = RolloutWorker(str(model_dir), LoraConfig(rank=4).model_dump(), 1, [0], 0, "bf16")
    assert {p.dtype for p in worker.model.parameters()} == {torch.bfloat16}
    with torch.no_grad():
        for name, param in trainer.named_parameters():
            if param.requires_grad:
                param.add_(0.01)
    from k2core.training.hf_model import trainable_state

    worker.sync(trainable_state(trainer))
    synced = dict(worker.model.named_parameters())
    for name, param in trainer.named_parameters():
        if param.requires_grad:
            assert torch.allclose(synced[name].float(), param, atol=1e-2)
    responses = worker.generate([[2, 40, 41], [2, 50]], n=2, max_new_tokens=4, temperature=1.0, top_p=1.0, seed=3)
    assert len(responses) == 4 and all(1 <= len(r) <= 4 for r in responses)
    again = worker.generate([[2, 40, 41], [2, 50]], n=2, max_new_tokens=4, temperature=1.0, top_p=1.0, seed=3)
    assert again == responses, "same seed, same samples"
