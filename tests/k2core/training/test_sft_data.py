"""SFT data: the AM-Thinking format, rejection sampling through k2core.verify, the assistant-only loss mask, and
parquet that verl's multi-turn SFT dataset reads."""

from __future__ import annotations

import json

import pytest

from k2core.data import Problem, load_dataset
from k2core.training.chat import assistant_content, prompt_messages, sft_ids_and_mask
from k2core.training.config import DataConfig
from k2core.training.sft_data import (
    as_am_thinking,
    read_traces,
    select_verified,
    sft_splits,
    worked_solution,
    write_sft_parquet,
)

from .conftest import CHATML_TEMPLATE, tiny_tokenizer

PROBLEM = Problem("p1", "math", "What is 7 + 5?", "12")


def test_worked_solution_is_think_then_boxed_answer():
    problem = load_dataset("gsm8k_train", limit=1)[0]
    messages = worked_solution(problem)
    assert [m["role"] for m in messages] == ["system", "user", "assistant"]
    assert messages[1]["content"] == problem.prompt
    think, answer = messages[2]["content"].split("</think>")
    assert think.startswith("<think>\n") and problem.meta["solution"].strip() in think
    assert answer.strip() == f"\\boxed{{{problem.answer}}}"
    assert "<<" not in messages[2]["content"], "calculator marks are removed"


def test_rejection_sampling_keeps_only_verified_traces():
    responses = [
        "<think>\n7 + 5 = 12\n</think>\n\n\\boxed{12}",
        "<think>\n7 + 5 = 13\n</think>\n\n\\boxed{13}",
        "7 plus 5 makes twelve.\n\nThe answer is \\boxed{12}.",
        "no answer at all",
    ]
    kept = select_verified(PROBLEM, responses)
    assert [m[-1]["content"] for m in kept] == [
        responses[0],
        assistant_content("7 plus 5 makes twelve.", "The answer is \\boxed{12}."),
    ]


def test_as_am_thinking_wraps_plain_reasoning():
    assert (
        as_am_thinking("step one\n\nstep two\n\n\\boxed{3}") == "<think>\nstep one\n\nstep two\n</think>\n\n\\boxed{3}"
    )
    assert as_am_thinking("\\boxed{3}") == "<think>\n\n</think>\n\n\\boxed{3}"


def test_loss_mask_covers_the_assistant_turn_only(tokenizer):
    messages = prompt_messages(PROBLEM.prompt) + [
        {"role": "assistant", "content": "<think>\nx\n</think>\n\n\\boxed{12}"}
    ]
    ids, mask = sft_ids_and_mask(tokenizer, messages, max_length=4096)
    assert len(ids) == len(mask)
    trained = tokenizer.decode([i for i, m in zip(ids, mask) if m])
    untrained = tokenizer.decode([i for i, m in zip(ids, mask) if not m])
    assert trained == "<think>\nx\n</think>\n\n\\boxed{12}<end_of_turn>\n"
    assert untrained.endswith("<start_of_turn>model\n") and "What is 7 + 5?" in untrained
    assert mask == sorted(mask), "one contiguous assistant span at the end"
    short_ids, short_mask = sft_ids_and_mask(tokenizer, messages, max_length=10)
    assert len(short_ids) == len(short_mask) == 10


def test_sft_mask_needs_an_assistant_turn_last(tokenizer):
    with pytest.raises(ValueError, match="assistant"):
        sft_ids_and_mask(tokenizer, prompt_messages("hi"), 64)


def test_splits_and_parquet_read_by_verls_sft_dataset(tmp_path):
    from omegaconf import OmegaConf
    from verl.utils.dataset.multiturn_sft_dataset import MultiTurnSFTDataset

    traces = tmp_path / "traces.jsonl"
    traces.write_text(
        json.dumps({**PROBLEM.to_dict(), "responses": ["<think>\nok\n</think>\n\n\\boxed{12}", "\\boxed{1}"]}) + "\n"
    )
    assert read_traces(traces)[0][1][1] == "\\boxed{1}"
    splits = sft_splits(DataConfig(sources=["gsm8k_train"], limit=9, test_fraction=0.2, traces=str(traces)))
    assert (len(splits["train"]), len(splits["test"])) == (8, 2)
    assert sum(row["data_source"] == "traces" for rows in splits.values() for row in rows) == 1
    write_sft_parquet(splits["train"], tmp_path / "sft_train.parquet")
    chatml = tiny_tokenizer(CHATML_TEMPLATE)
    config = OmegaConf.create(
        {"messages_key": "messages", "max_length": 4096, "truncation": "error", "pad_mode": "right"}
    )
    dataset = MultiTurnSFTDataset(str(tmp_path / "sft_train.parquet"), chatml, config)
    item = dataset[0]
    trained = chatml.decode(item["input_ids"][item["loss_mask"].bool()])
    assert trained.startswith("<think>") and "</think>" in trained and "\\boxed{" in trained
    assert "You are a helpful assistant" not in trained


def test_bad_trace_rows_name_the_field(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({**PROBLEM.to_dict(), "responses": "not a list"}) + "\n")
    with pytest.raises(ValueError, match="responses"):
        read_traces(bad)
