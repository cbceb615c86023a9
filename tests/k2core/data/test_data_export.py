"""Export: verl RL parquet (schema, split, determinism) and JSONL round trips."""

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from k2core.data import export_verl, generate, load_dataset, read_jsonl, write_jsonl
from k2core.data.export import split_problems


def test_jsonl_round_trip(tmp_path: Path) -> None:
    problems = load_dataset("gsm8k_test", limit=3) + list(generate("logic", 3, 0))
    path = tmp_path / "nested" / "problems.jsonl"
    assert write_jsonl(problems, path) == 6
    assert read_jsonl(path) == problems
    assert all(json.loads(line)["answer"] for line in path.read_text().splitlines())


def test_verl_parquet_has_verl_columns(tmp_path: Path) -> None:
    summary = export_verl(["gsm8k_train", "gen:tabular"], tmp_path, test_fraction=0.2, limit=10, seed=1)
    assert summary == {"out": str(tmp_path), "train": 16, "test": 4, "sources": {"gsm8k_train": 10, "gen:tabular": 10},
                       "dropped": {"gsm8k_train": 0, "gen:tabular": 0}}  # fmt: skip
    train = pq.read_table(tmp_path / "train.parquet").to_pylist()
    test = pq.read_table(tmp_path / "test.parquet").to_pylist()
    assert pq.read_schema(tmp_path / "train.parquet").names == [
        "data_source", "prompt", "ability", "reward_model", "extra_info"
    ]  # fmt: skip
    assert len(train) == 16 and len(test) == 4
    by_id = {p.id: p for p in load_dataset("gsm8k_train", limit=10) + load_dataset("gen:tabular", limit=10, seed=1)}
    for split, rows in (("train", train), ("test", test)):
        for index, row in enumerate(rows):
            problem = by_id[row["extra_info"]["id"]]
            assert row["data_source"] in ("gsm8k_train", "gen:tabular")
            assert row["prompt"] == [{"role": "user", "content": problem.prompt}]
            assert row["ability"] == problem.domain == row["extra_info"]["domain"]
            assert row["reward_model"] == {"style": "rule", "ground_truth": problem.answer}
            assert (row["extra_info"]["split"], row["extra_info"]["index"]) == (split, index)
    assert {r["extra_info"]["id"] for r in train}.isdisjoint({r["extra_info"]["id"] for r in test})
    assert sum(r["data_source"] == "gsm8k_train" for r in test) == 2


def test_export_is_deterministic_and_seeded(tmp_path: Path) -> None:
    export_verl(["gen:arith"], tmp_path / "a", limit=30, seed=3)
    export_verl(["gen:arith"], tmp_path / "b", limit=30, seed=3)
    export_verl(["gen:arith"], tmp_path / "c", limit=30, seed=4)
    a, b, c = (pq.read_table(tmp_path / d / "test.parquet").to_pylist() for d in "abc")
    assert a == b != c


def test_empty_split_still_writes_a_readable_file(tmp_path: Path) -> None:
    summary = export_verl(["gen:countdown"], tmp_path, test_fraction=0.0, limit=4)
    assert (summary["train"], summary["test"]) == (4, 0)
    assert pq.read_table(tmp_path / "test.parquet").num_rows == 0


def test_split_rejects_bad_fractions_and_unknown_sources(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="test_fraction"):
        split_problems([], 1.5, "x")
    with pytest.raises(ValueError, match="'gen:nope'"):
        export_verl(["gen:nope"], tmp_path)


def test_gsm8k_worked_solution_is_exposed_for_sft() -> None:
    problem = load_dataset("gsm8k_train", limit=1)[0]
    assert problem.answer == "72"
    assert problem.meta["solution"].startswith("Natalia sold 48/2 = 24 clips in May.")
