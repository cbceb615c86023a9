"""Export Problems: verl's RL parquet (train/test, decontaminated against every evaluation set) and plain JSONL
(one ``Problem.to_dict`` per line)."""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from k2core.data.datasets import load_dataset
from k2core.data.decontam import decontaminate
from k2core.data.problem import Problem

if TYPE_CHECKING:
    import pyarrow as pa


def verl_schema() -> pa.Schema:
    """The parquet schema verl's RL dataset reads (pyarrow is imported only when exporting)."""
    import pyarrow as pa

    return pa.schema(
        [
            ("data_source", pa.string()),
            ("prompt", pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))),
            ("ability", pa.string()),
            ("reward_model", pa.struct([("style", pa.string()), ("ground_truth", pa.string())])),
            (
                "extra_info",
                pa.struct(
                    [("split", pa.string()), ("index", pa.int64()), ("id", pa.string()), ("domain", pa.string())]
                ),
            ),
        ]
    )


def write_jsonl(problems: Iterable[Problem], path: Path) -> int:
    """Write one problem per line; returns how many were written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with path.open("w", encoding="utf-8") as out:
        for problem in problems:
            out.write(json.dumps(problem.to_dict(), ensure_ascii=False) + "\n")
            count += 1
    return count


def read_jsonl(path: Path) -> list[Problem]:
    """Read problems written by ``write_jsonl``."""
    with path.open(encoding="utf-8") as lines:
        return [Problem.from_dict(json.loads(line)) for line in lines if line.strip()]


def verl_record(problem: Problem, data_source: str, split: str, index: int) -> dict[str, Any]:
    """One verl RL row: the prompt as chat messages, the domain as ability, a rule-style ground truth."""
    return {
        "data_source": data_source,
        "prompt": [{"role": "user", "content": problem.prompt}],
        "ability": problem.domain,
        "reward_model": {"style": "rule", "ground_truth": problem.answer},
        "extra_info": {"split": split, "index": index, "id": problem.id, "domain": problem.domain},
    }


def write_verl_parquet(records: Sequence[dict[str, Any]], path: Path) -> None:
    """Write verl rows with the fixed schema (an empty split still gets a readable file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pylist(list(records), schema=verl_schema()), path)


def split_problems(problems: Sequence[Problem], test_fraction: float, seed: str) -> tuple[list, list]:
    """A seeded shuffle, then the first ``round(len * test_fraction)`` problems go to test."""
    if not 0 <= test_fraction <= 1:
        raise ValueError(f"test_fraction must be between 0 and 1, got {test_fraction}")
    shuffled = list(problems)
    random.Random(seed).shuffle(shuffled)
    cut = round(len(shuffled) * test_fraction)
    return shuffled[cut:], shuffled[:cut]


def export_verl(
    sources: Sequence[str],
    out_dir: Path,
    *,
    test_fraction: float = 0.1,
    limit: int | None = None,
    seed: int = 0,
    drop_overlaps: bool = False,
    on_source: Callable[[str, int], None] | None = None,
    data_dir: Path | None = None,
) -> dict[str, Any]:
    """Write ``train.parquet`` and ``test.parquet`` from training dataset names; each source is split on its own.

    Every source is checked first (``k2core.data.decontam``): an evaluation set, or a source with a problem
    sharing a 13-gram with an evaluation prompt, raises ContaminationError naming it and nothing is written;
    with ``drop_overlaps`` the overlapping problems are left out instead and counted under ``dropped``."""
    loaded = {source: load_dataset(source, limit=limit, seed=seed, data_dir=data_dir) for source in sources}
    clean = {source: decontaminate(source, problems, drop_overlaps, data_dir) for source, problems in loaded.items()}
    splits: dict[str, list[tuple[str, Problem]]] = {"train": [], "test": []}
    counts: dict[str, int] = {}
    for source, problems in clean.items():
        train, test = split_problems(problems, test_fraction, f"{source}:{seed}")
        splits["train"] += [(source, p) for p in train]
        splits["test"] += [(source, p) for p in test]
        counts[source] = len(problems)
        if on_source:
            on_source(source, len(problems))
    for split, rows in splits.items():
        records = [verl_record(p, source, split, i) for i, (source, p) in enumerate(rows)]
        write_verl_parquet(records, out_dir / f"{split}.parquet")
    dropped = {source: len(loaded[source]) - len(clean[source]) for source in sources}
    return {"out": str(out_dir), "train": len(splits["train"]), "test": len(splits["test"]), "sources": counts,
            "dropped": dropped}  # fmt: skip
