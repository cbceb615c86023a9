"""SFT conversations in the AM-Thinking format: from GSM8K worked solutions, and from solver traces that pass
``k2core.verify`` (rejection sampling)."""

from __future__ import annotations

import json
import random
from collections.abc import Iterable, Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from k2core.data import Problem, load_dataset
from k2core.training.chat import Message, assistant_content, prompt_messages
from k2core.training.config import DataConfig
from k2core.verify import grade

SFT_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("data_source", pa.string()),
        ("messages", pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))),
    ]
)


def conversation(problem: Problem, assistant: str) -> list[Message]:
    """System, user and assistant messages for one problem."""
    return prompt_messages(problem.prompt) + [{"role": "assistant", "content": assistant}]


def worked_solution(problem: Problem) -> list[Message]:
    """A GSM8K-style problem whose meta carries the worked solution, as reasoning then a boxed answer."""
    solution = problem.meta.get("solution")
    if not solution:
        raise ValueError(f"problem {problem.id!r} has no worked solution in its meta")
    return conversation(problem, assistant_content(solution, f"\\boxed{{{problem.answer}}}"))


def as_am_thinking(response: str) -> str:
    """A solver response in AM-Thinking form: kept when it has ``</think>``, else its last paragraph becomes
    the final answer and the rest the reasoning."""
    if "</think>" in response:
        return response.strip()
    head, _, tail = response.strip().rpartition("\n\n")
    return assistant_content(head, tail) if head else assistant_content("", tail)


def select_verified(problem: Problem, responses: Iterable[str]) -> list[list[Message]]:
    """Rejection sampling: the conversations whose AM-Thinking answer the domain's verifier grades correct."""
    kept = []
    for response in responses:
        content = as_am_thinking(response)
        if grade(problem.domain, content, problem.answer).correct:
            kept.append(conversation(problem, content))
    return kept


def read_traces(path: Path) -> list[tuple[Problem, list[str]]]:
    """Solver traces: JSONL lines with the problem fields (``id, domain, prompt, answer``) and ``responses``."""
    traces = []
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            row = json.loads(line)
            responses = row.pop("responses", None)
            if not isinstance(responses, list) or not all(isinstance(r, str) for r in responses):
                raise ValueError(f"{path}:{number}: field 'responses' must be a list of strings")
            traces.append((Problem.from_dict(row), responses))
    return traces


def write_sft_parquet(rows: Sequence[dict], path: Path) -> None:
    """Write SFT rows (``id``, ``data_source``, ``messages``: verl's multi-turn SFT dataset) with a fixed schema."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(list(rows), schema=SFT_SCHEMA), path)


def sft_splits(data: DataConfig) -> dict[str, list[dict]]:
    """``train`` and ``test`` rows: worked solutions of every source that has them, plus the verified traces of
    ``data.traces``; a seeded shuffle then the first ``test_fraction`` go to test."""
    items: list[tuple[str, Problem, list[Message]]] = []
    for source in data.sources:
        for problem in load_dataset(source, limit=data.limit, seed=data.seed):
            if problem.meta.get("solution"):
                items.append((source, problem, worked_solution(problem)))
    if data.traces:
        for problem, responses in read_traces(Path(data.traces)):
            items += [("traces", problem, messages) for messages in select_verified(problem, responses)]
    random.Random(f"sft:{data.seed}").shuffle(items)
    cut = round(len(items) * data.test_fraction)
    rows = [{"id": p.id, "data_source": source, "messages": messages} for source, p, messages in items]
    return {"train": rows[cut:], "test": rows[:cut]}
