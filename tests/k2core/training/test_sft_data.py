"""SFT data: the AM-Thinking format, rejection sampling through k2core.verify, the assistant-only loss mask, and
parquet that verl's multi-turn SFT dataset reads."""

from __future__ import annotations

import json

import pytest

from k2core.data import Problem, load_dataset
from k2core.data.decontam import ContaminationError
from k2core.training.chat import assistant_content, prompt_messages, sft_ids_and_mask
from k2core.training.config import DataConfig
from k2core.training.sft_data import (
    as_am_thinking,
    read_traces,
    select_verified,
    sft_splits,
    trace_row,
    worked_solution,
    write_sft_parquet,
)

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
    lines = "1. 9 - 3 = 6\n2. So the answer is \\boxed{6}\n3. Done."
    assert as_am_thinking(lines) == "<think>\n1. 9 - 3 = 6\n</think>\n\n2. So the answer is \\boxed{6}\n3. Done."


def test_loss_mask_covers_the_assistant_turn_only(tokenizer):
    messages = prompt_messages(PROBLEM.prompt) + [
        {"role": "assistant", "content": "<think>\nx\n</think>\n\n\\boxed{12}"}
    ]
    ids, mask = sft_ids_and_mask(tokenizer, messages, max_length=4096)
    assert len(ids) == len(mask)
    trained = tokenizer.decode([i for i, m in zip(ids, mask) if m])
    untrained = tokenizer.decode([i for i, m in zip(ids, mask) if not m])
    assert trained == "<think>\nx\n</think>\n\n\\boxed{12}<|im_end|>\n"
    assert untrained.endswith("<|im_start|>assistant\n") and "What is 7 + 5?" in untrained
    assert mask == sorted(mask), "one contiguous assistant span at the end"
    short_ids, short_mask = sft_ids_and_mask(tokenizer, messages, max_length=10)
    assert len(short_ids) == len(short_mask) == 10


def test_sft_mask_needs_an_assistant_turn_last(tokenizer):
    with pytest.raises(ValueError, match="assistant"):
        sft_ids_and_mask(tokenizer, prompt_messages("hi"), 64)


def write_traces(path, rows):
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def test_splits_and_parquet_read_by_verls_sft_dataset(tmp_path, tokenizer):
    from omegaconf import OmegaConf
    from verl.utils.dataset.multiturn_sft_dataset import MultiTurnSFTDataset

    kept = select_verified(PROBLEM, ["<think>\nok\n</think>\n\n\\boxed{12}", "\\boxed{1}"])
    traces = write_traces(tmp_path / "traces.jsonl", [trace_row(PROBLEM, "gen:arith", m) for m in kept])
    assert [row["messages"][-1]["content"] for row in read_traces(traces)] == ["<think>\nok\n</think>\n\n\\boxed{12}"]
    splits = sft_splits(DataConfig(sources=["gsm8k_train"], limit=9, test_fraction=0.2, traces=str(traces)))
    assert (len(splits["train"]), len(splits["test"])) == (8, 2)
    assert sum(row["data_source"] == "traces:gen:arith" for rows in splits.values() for row in rows) == 1
    write_sft_parquet(splits["train"], tmp_path / "sft_train.parquet")
    config = OmegaConf.create(
        {"messages_key": "messages", "max_length": 4096, "truncation": "error", "pad_mode": "right"}
    )
    dataset = MultiTurnSFTDataset(str(tmp_path / "sft_train.parquet"), tokenizer, config)
    item = dataset[0]
    trained = tokenizer.decode(item["input_ids"][item["loss_mask"].bool()])
    assert trained.startswith("<think>") and "</think>" in trained and "\\boxed{" in trained
    assert "You are a helpful assistant" not in trained


def test_bad_trace_rows_name_the_line_and_field(tmp_path):
    row = trace_row(PROBLEM, "gen:arith", select_verified(PROBLEM, ["\\boxed{12}"])[0])
    missing = write_traces(tmp_path / "missing.jsonl", [{k: v for k, v in row.items() if k != "answer"}])
    with pytest.raises(ValueError, match="missing.jsonl:1: field 'answer'"):
        read_traces(missing)
    wrong = write_traces(tmp_path / "wrong.jsonl", [row, {**row, "answer": "13"}])
    with pytest.raises(ValueError, match="wrong.jsonl:2: field 'messages'.*verifier rejects"):
        read_traces(wrong)


def test_traces_from_an_evaluation_set_or_overlapping_one_are_refused(tmp_path):
    test_problem = load_dataset("gsm8k_test", limit=1)[0]
    copied = Problem("copy-1", "math", test_problem.prompt, test_problem.answer)
    messages = worked_solution(Problem("copy-1", "math", copied.prompt, copied.answer, {"solution": "so"}))
    for source, match in (("gsm8k_test", "is an evaluation set"), ("gen:arith", "share a 13-gram")):
        traces = write_traces(tmp_path / f"{source}.jsonl", [trace_row(copied, source, messages)])
        with pytest.raises(ContaminationError, match=match):
            sft_splits(DataConfig(sources=[], traces=str(traces)))
    dropped = sft_splits(DataConfig(sources=[], traces=str(traces), drop_overlaps=True))
    assert dropped == {"train": [], "test": []}


def test_worked_solution_of_a_countdown_problem_is_its_expression_boxed():
    problem = load_dataset("gen:countdown", limit=1, seed=3)[0]
    content = worked_solution(problem)[-1]["content"]
    assert content.endswith(f"\\boxed{{{problem.meta['solution']}}}")
