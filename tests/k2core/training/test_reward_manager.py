"""k2core.rewards.compute_score called through verl's own reward managers on a small batch (CPU)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from k2core.training.config import load_config
from k2core.training.verl_config import build_verl_config

from .conftest import REPO

CASES = [
    ("gen:arith", "<think>\n7 + 5 = 12\n</think>\n\n\\boxed{12}", "12", 1.0),
    ("gen:arith", "<think>\n7 + 5 = 13\n</think>\n\n\\boxed{13}", "12", 0.2),
    ("gsm8k_train", "<think>\nhalf of 10\n</think>\n\nThe answer is \\boxed{5}.", "5", 1.0),
    ("gpqa_diamond", "<think>\nit is B", "B", 0.0),
]


def data_proto(tokenizer, cases):
    """A verl DataProto as the rollout produces it: left-padded prompts, right-padded responses."""
    from verl import DataProto

    prompts = [tokenizer(f"Q{i}", add_special_tokens=False).input_ids for i in range(len(cases))]
    responses = [tokenizer(c[1], add_special_tokens=False).input_ids for c in cases]
    p_len, r_len = max(map(len, prompts)), max(map(len, responses))
    pad = tokenizer.pad_token_id
    prompt_ids = torch.tensor([[pad] * (p_len - len(p)) + p for p in prompts])
    response_ids = torch.tensor([r + [pad] * (r_len - len(r)) for r in responses])
    mask = torch.tensor(
        [
            [0] * (p_len - len(p)) + [1] * len(p) + [1] * len(r) + [0] * (r_len - len(r))
            for p, r in zip(prompts, responses)
        ]
    )
    return DataProto.from_dict(
        tensors={"prompts": prompt_ids, "responses": response_ids, "attention_mask": mask},
        non_tensors={
            "data_source": np.array([c[0] for c in cases], dtype=object),
            "reward_model": np.array([{"ground_truth": c[2], "style": "rule"} for c in cases], dtype=object),
            "extra_info": np.array([{"index": i} for i in range(len(cases))], dtype=object),
        },
    )


@pytest.fixture(scope="module")
def verl_config():
    return build_verl_config(load_config(REPO / "training-jobs" / "rlvr" / "config.yaml"))


def test_naive_reward_manager_scores_a_batch(tokenizer, verl_config):
    from verl.trainer.ppo.reward import get_custom_reward_fn
    from verl.workers.reward_manager import NaiveRewardManager

    manager = NaiveRewardManager(tokenizer, num_examine=0, compute_score=get_custom_reward_fn(verl_config))
    data = data_proto(tokenizer, CASES)
    rewards = manager(data)
    lengths = data.batch["attention_mask"][:, data.batch["prompts"].shape[1] :].sum(-1)
    assert rewards.sum(-1).tolist() == pytest.approx([c[3] for c in CASES])
    for row, length in enumerate(lengths.tolist()):
        assert rewards[row, length - 1] == pytest.approx(CASES[row][3]), "score sits on the last response token"


def test_reward_loop_manager_from_the_job_config(tokenizer, verl_config):
    from verl.trainer.ppo.reward import load_reward_manager

    manager = load_reward_manager(verl_config, tokenizer)
    data = data_proto(tokenizer, CASES)

    async def score_all():
        return [await manager.run_single(data[i : i + 1]) for i in range(len(data))]

    results = manager.loop.run_until_complete(score_all())  # the manager is bound to verl's event loop
    assert [r["reward_score"] for r in results] == pytest.approx([c[3] for c in CASES])
