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
from k2core.data.decontam import decontaminate
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
    """A problem whose meta carries a worked solution, as AM-Thinking reasoning then a boxed answer, graded.

    Three shapes: steps that end in their own ``\\boxed{}`` (``gen:tabular``), GSM8K-style steps whose answer is
    the problem's (math), or a bare final answer such as a countdown expression. A solution the domain's verifier
    rejects is a ValueError naming the problem, so a faulty writer cannot teach a wrong answer."""
    solution = problem.meta.get("solution")
    if not isinstance(solution, str) or not solution.strip():
        raise ValueError(f"problem {problem.id!r} has no worked solution in its meta")
    if "\\boxed" in solution:
        content = as_am_thinking(solution)
    elif problem.domain == "math":
        content = assistant_content(solution, f"\\boxed{{{problem.answer}}}")
    else:
        content = assistant_content("", f"\\boxed{{{solution.strip()}}}")
    if not grade(problem.domain, content, problem.answer).correct:
        raise ValueError(f"problem {problem.id!r}: its worked solution does not verify")
    return conversation(problem, content)


def as_am_thinking(response: str) -> str:
    """A solver response in AM-Thinking form: kept when it has ``</think>``; else the text before the line holding
    the last ``\\boxed`` (or before the last paragraph) becomes the reasoning and the rest the final answer."""
    text = response.strip()
    if "</think>" in text:
        return text
    box = text.rfind("\\boxed")
    cut = text.rfind("\n", 0, box) if box >= 0 else text.rfind("\n\n")
    return assistant_content(text[:cut], text[cut:]) if cut > 0 else assistant_content("", text)


def select_verified(problem: Problem, responses: Iterable[str]) -> list[list[Message]]:
    """Rejection sampling: the conversations whose AM-Thinking answer the domain's verifier grades correct."""
    kept = []
    for response in responses:
        content = as_am_thinking(response)
        if grade(problem.domain, content, problem.answer).correct:
            kept.append(conversation(problem, content))
    return kept


def trace_row(problem: Problem, source: str, messages: list[Message]) -> dict:
    """One line of a traces file: a verified AM-Thinking conversation and what it was graded against."""
    return {"id": problem.id, "data_source": source, "domain": problem.domain, "answer": problem.answer,
            "messages": messages}  # fmt: skip


def trace_problem(row: dict) -> Problem:
    """The problem a trace row answers (its user turn is the prompt)."""
    prompt = next(m["content"] for m in row["messages"] if m["role"] == "user")
    return Problem(row["id"], row["domain"], prompt, row["answer"])


def read_traces(path: Path) -> list[dict]:
    """Verified conversations written by ``k2think traces`` (JSONL of ``trace_row``); each is graded again, so a
    file from elsewhere cannot slip in a wrong answer. A bad line is a ValueError naming it and the field."""
    rows = []
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            row = json.loads(line)
            for field in ("id", "data_source", "domain", "answer", "messages"):
                if field not in row:
                    raise ValueError(f"{path}:{number}: field {field!r} is missing")
            messages = row["messages"]
            if not messages or messages[-1].get("role") != "assistant":
                raise ValueError(f"{path}:{number}: field 'messages' must end with the assistant's turn")
            if not grade(row["domain"], messages[-1]["content"], row["answer"]).correct:
                raise ValueError(f"{path}:{number}: field 'messages' holds an answer the verifier rejects")
            rows.append(row)
    return rows


def clean_traces(rows: Sequence[dict], drop_overlaps: bool) -> list[dict]:
    """Trace rows whose source is a training set and whose prompt shares no 13-gram with an evaluation set."""
    kept = []
    for source in dict.fromkeys(row["data_source"] for row in rows):
        mine = [row for row in rows if row["data_source"] == source]
        safe = {p.id for p in decontaminate(source, [trace_problem(r) for r in mine], drop_overlaps)}
        kept += [row for row in mine if row["id"] in safe]
    return kept


def sft_row(problem: Problem, source: str, messages: list[Message]) -> dict:
    """One SFT parquet row."""
    return {"id": problem.id, "data_source": source, "messages": messages}


def write_sft_parquet(rows: Sequence[dict], path: Path) -> None:
    """Write SFT rows (``id``, ``data_source``, ``messages``: verl's multi-turn SFT dataset) with a fixed schema."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(list(rows), schema=SFT_SCHEMA), path)


def sft_splits(data: DataConfig, data_dir: Path | None = None) -> dict[str, list[dict]]:
    """``train`` and ``test`` rows: worked solutions of every source that has them (files from ``data_dir``, else the
    packaged data), plus the verified traces of ``data.traces``, all decontaminated; a seeded shuffle then the first
    ``test_fraction`` go to test."""
    rows = []
    for source in data.sources:
        problems = decontaminate(
            source, load_dataset(source, data.limit, data.seed, data_dir), data.drop_overlaps, data_dir
        )
        rows += [sft_row(p, source, worked_solution(p)) for p in problems if p.meta.get("solution")]
    if data.traces:
        traces = clean_traces(read_traces(Path(data.traces)), data.drop_overlaps)
        rows += [{"id": r["id"], "data_source": f"traces:{r['data_source']}", "messages": r["messages"]}
                 for r in traces]  # fmt: skip
    random.Random(f"sft:{data.seed}").shuffle(rows)
    cut = round(len(rows) * data.test_fraction)
    return {"train": rows[cut:], "test": rows[:cut]}
