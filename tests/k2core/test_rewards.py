"""verl rewards: data source → domain, floats in [0, 1], bad truth raises naming the item, bad output scores 0."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

import k2core.rewards
from k2core.rewards import compute_score, domain_of, score_details
from k2core.verify import GroundTruthError

ADVERSARIAL = [
    "\\boxed{" * 30_000,
    "\\boxed{" + "1" * 100_000 + "}",
    "```\n" * 30_000,
    "```python\n" + "x" * 100_000,
    "Answer:\n" * 30_000,
    "Answer: " + "$" * 100_000 + "x",
    "#### " + "9" * 100_000,
    "1," * 100_000,
    "\n" * 100_000,
    "(" * 50_000,
    "**" + " " * 100_000 + "x",
]
CODE_TRUTH = {"test": "def check(candidate):\n    assert candidate(2) == 4\n", "entry_point": "double"}


@pytest.mark.parametrize(
    ("source", "domain"),
    [
        ("math", "math"),
        ("code", "code"),
        ("science", "science"),
        ("logic", "logic"),
        ("aime24", "math"),
        ("aime25", "math"),
        ("amc23", "math"),
        ("math500", "math"),
        ("gsm8k", "math"),
        ("gsm8k_test", "math"),
        ("gsm8k_train", "math"),
        ("humaneval", "code"),
        ("gpqa_diamond", "science"),
        ("gen:arith", "math"),
        ("gen:countdown", "simulation"),
        ("gen:logic", "logic"),
        ("gen:simulation", "simulation"),
        ("gen:tabular", "tabular"),
        ("openai/gsm8k", "math"),
        ("lighteval/MATH", "math"),
        ("HuggingFaceH4/MATH-500", "math"),
        ("openai/openai_humaneval", "code"),
        ("Idavidrein/gpqa", "science"),
        ("AIME25 ", "math"),
    ],
)
def test_data_source_to_domain(source: str, domain: str) -> None:
    assert domain_of(source) == domain


@pytest.mark.parametrize("source", ["imagenet", "gen:unknown", "", "squad"])
def test_unknown_data_source_is_named(source: str) -> None:
    with pytest.raises(ValueError, match="data_source") as info:
        compute_score(source, "\\boxed{1}", "1")
    assert repr(source) in str(info.value)


@pytest.mark.parametrize(
    ("source", "response", "truth", "expected"),
    [
        ("amc23", "<think>...</think>\\boxed{27}", 27.0, 1.0),
        ("aime24", "The answer is 204", "204", 1.0),
        ("aime24", "The answer is 205", "204", 0.0),
        ("gsm8k", "#### 72", "Natalia sold 48/2 = 24 clips...\n#### 72", 1.0),
        ("gpqa_diamond", "Answer: (B)", "B", 1.0),
        ("humaneval", "```python\ndef double(x):\n    return 2 * x\n```", CODE_TRUTH, 1.0),
        ("humaneval", "```python\ndef double(x):\n    return 2 * x\n```", json.dumps(CODE_TRUTH), 1.0),
        ("code", "```python\ndef double(x):\n    return x\n```", CODE_TRUTH, 0.0),
    ],
)
def test_scores(source: str, response: str, truth: object, expected: float) -> None:
    score = compute_score(source, response, truth, {"index": 3})
    assert isinstance(score, float) and score == expected


@pytest.mark.parametrize("response", ["", "no answer at all", None, 42, "\\boxed{" * 5000, "\x00\ufffd" * 100])
def test_malformed_responses_score_zero(response: object) -> None:
    assert compute_score("math", response, "5") == 0.0
    detail = score_details("math", response, "5")
    assert detail.score == 0.0 and detail.reason


@pytest.mark.parametrize("domain", ["math", "science", "code"])
def test_adversarial_output_is_graded_quickly(domain: str) -> None:
    """Long, unbalanced or repetitive output: no quadratic scan, no hang, no exception."""
    truth = {"math": "5", "science": "C", "code": json.dumps({"inputs": ["1"], "outputs": ["1"]})}[domain]
    for response in ADVERSARIAL:
        started = time.monotonic()
        assert compute_score(domain, response, truth) == 0.0
        assert time.monotonic() - started < 2, response[:40]


@pytest.mark.parametrize(
    ("source", "truth"), [("math500", ""), ("gpqa_diamond", "E"), ("humaneval", "{not json"), ("code", {"x": 1})]
)
def test_malformed_ground_truth_raises_naming_the_item(source: str, truth: object) -> None:
    with pytest.raises(GroundTruthError, match=rf"{source} item row-17"):
        compute_score(source, "\\boxed{1}", truth, {"id": "row-17"})


def test_grader_crash_on_a_response_scores_zero(monkeypatch: pytest.MonkeyPatch) -> None:
    grader = k2core.rewards.get_grader("math")

    def explode(response: str, ground_truth: str) -> None:
        raise RecursionError("deeply nested output")

    monkeypatch.setattr(grader, "grade", explode)
    detail = score_details("math", "\\boxed{1}", "1")
    assert detail.score == 0.0 and "RecursionError" in detail.reason


def test_format_weight() -> None:
    assert compute_score("math", "<think>x</think>\\boxed{2}", "3", format_weight=0.2) == pytest.approx(0.2)
    assert compute_score("math", "<think>x \\boxed{3}", "3", format_weight=0.2) == pytest.approx(0.8)
    assert compute_score("math", "<think>x</think>\\boxed{3}", "3", format_weight=0.2) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="format_weight"):
        compute_score("math", "\\boxed{3}", "3", format_weight=1.5)


def test_through_verls_reward_manager() -> None:
    """verl loads compute_score from the file path (custom_reward_function) and scores a small batch on CPU."""
    np = pytest.importorskip("numpy")
    torch = pytest.importorskip("torch")
    pytest.importorskip("verl")
    from omegaconf import OmegaConf
    from verl import DataProto
    from verl.trainer.ppo.reward import get_custom_reward_fn
    from verl.workers.reward_manager.naive import NaiveRewardManager

    class CharTokenizer:
        """Token id = character code; enough for verl to decode prompts and responses."""

        def decode(self, ids, skip_special_tokens: bool = True) -> str:
            return "".join(chr(int(i)) for i in ids if int(i) > 0)

    items = [
        ("aime24", "<think>hm</think>\\boxed{204}", "204"),
        ("gpqa_diamond", "Answer: C", "B"),
        ("humaneval", "```python\ndef double(x):\n    return 2 * x\n```", json.dumps(CODE_TRUTH)),
        ("gen:arith", "I give up", "12"),
    ]
    width = max(len(r) for _, r, _ in items)
    prompts = torch.full((len(items), 4), ord("q"))
    responses = torch.tensor([[ord(c) for c in r] + [0] * (width - len(r)) for _, r, _ in items])
    mask = torch.cat([torch.ones_like(prompts), (responses > 0).long()], dim=1)
    batch = DataProto.from_dict(
        tensors={"prompts": prompts, "responses": responses, "attention_mask": mask},
        non_tensors={
            "data_source": np.array([s for s, _, _ in items], dtype=object),
            "reward_model": np.array([{"style": "rule", "ground_truth": t} for _, _, t in items], dtype=object),
            "extra_info": np.array([{"index": i} for i in range(len(items))], dtype=object),
        },
    )
    path = Path(k2core.rewards.__file__)
    config = OmegaConf.create({"reward": {"custom_reward_function": {"path": str(path), "name": "compute_score"}}})
    manager = NaiveRewardManager(tokenizer=CharTokenizer(), num_examine=0, compute_score=get_custom_reward_fn(config))
    rewards = manager(batch).sum(dim=-1).tolist()
    assert rewards == [1.0, 0.0, 1.0, 0.0]
