"""Loaders for every packaged data file (k2core/data/packaged/README.md): counts, domains and answer forms match
the README's table; the files are gzip JSONL package data, so they load from a clone anywhere."""

import json
import re
from pathlib import Path

import pytest

from k2core.config import Settings
from k2core.data import data_dir, dataset_domain, list_datasets, load_dataset
from k2core.data.files import FILE_DATASETS, PACKAGED_DIR, number_text

INDEX_ROW = re.compile(r"^\| (\w+)/(\w+)\.jsonl\.gz \| (\d+)")


def index_rows() -> dict[str, tuple[str, int, str]]:
    """``{dataset: (relative path, rows, domain)}`` read from the packaged data README itself (the folder is the domain)."""
    rows = {}
    for line in (PACKAGED_DIR / "README.md").read_text().splitlines():
        if match := INDEX_ROW.match(line):
            folder, name, count = match.groups()
            rows[name] = (f"{folder}/{name}.jsonl", int(count), folder)
    return rows


def test_every_indexed_file_has_a_loader() -> None:
    rows = index_rows()
    assert len(rows) == 8
    assert set(rows) == set(FILE_DATASETS)
    for name, (path, _, domain) in rows.items():
        assert FILE_DATASETS[name].path == path
        assert dataset_domain(name) == domain


@pytest.mark.parametrize("name", sorted(FILE_DATASETS))
def test_loader_reads_every_row(name: str) -> None:
    _, count, domain = index_rows()[name]
    problems = load_dataset(name)
    assert len(problems) == count
    assert len({p.id for p in problems}) == count
    for problem in problems:
        assert problem.domain == domain
        assert problem.prompt.strip() and problem.answer.strip()


def test_math_answers_are_text_and_prompts_ask_for_boxed() -> None:
    amc = load_dataset("amc23")
    assert amc[0].answer == "27"
    assert all(not p.answer.endswith(".0") for p in amc)
    assert any(p.answer.startswith("-") for p in amc)
    for name in ("aime24", "aime25", "math500", "gsm8k_test"):
        assert all("\\boxed{}" in p.prompt for p in load_dataset(name, limit=5))
    assert load_dataset("math500", limit=1)[0].answer == "\\left( 3, \\frac{\\pi}{2} \\right)"
    assert load_dataset("aime24", limit=1)[0].meta["solution"]


@pytest.mark.parametrize("name", ["gsm8k_test", "gsm8k_train"])
def test_gsm8k_answer_is_the_number_after_hashes(name: str) -> None:
    rows = FILE_DATASETS[name].rows()
    for row, problem in zip(rows, load_dataset(name)):
        expected = row["answer"].split("####")[-1].strip().replace(",", "")
        assert problem.answer == expected
        assert re.fullmatch(r"-?\d+(\.\d+)?", problem.answer)
        assert "####" not in problem.meta["solution"] and "<<" not in problem.meta["solution"]
        assert problem.meta["solution"]


def test_gpqa_answers_are_letters() -> None:
    problems = load_dataset("gpqa_diamond")
    assert {p.answer for p in problems} == {"A", "B", "C", "D"}
    assert all("A)" in p.prompt and "\\boxed{}" in p.prompt for p in problems)


def test_humaneval_ground_truth_carries_tests_entry_point_and_prompt() -> None:
    for problem in load_dataset("humaneval"):
        truth = json.loads(problem.answer)
        assert set(truth) == {"test", "entry_point", "prompt"}
        assert "def check(candidate)" in truth["test"]
        assert f"def {truth['entry_point']}" in truth["prompt"]
        assert "```python" in problem.prompt and truth["prompt"] in problem.prompt
        assert problem.meta["canonical_solution"]


def test_limit_takes_the_first_rows_in_file_order() -> None:
    assert [p.id for p in load_dataset("gsm8k_train", limit=3)] == ["gsm8k_train-0", "gsm8k_train-1", "gsm8k_train-2"]
    assert load_dataset("aime25", limit=0) == []


def test_data_dir_follows_the_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "math").mkdir()
    (tmp_path / "math" / "aime25.jsonl").write_text('{"problem": "1 + 1?", "answer": "2"}\n')
    monkeypatch.setenv("K2_DATA_DIR", str(tmp_path))
    assert data_dir(Settings()) == tmp_path
    assert [p.answer for p in load_dataset("aime25", data_dir=data_dir(Settings()))] == ["2"]
    assert [p.answer for p in load_dataset("aime25")] != ["2"]  # library code reads no environment of its own


def test_default_data_dir_is_the_packaged_data(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("K2_DATA_DIR", raising=False)
    assert data_dir(Settings()) == PACKAGED_DIR
    assert sorted(p.name for p in PACKAGED_DIR.glob("*/*")) == sorted(Path(d.path).name + ".gz" for d in FILE_DATASETS.values())


def test_gpqa_keeps_its_canary_line_and_loaders_skip_it() -> None:
    import gzip

    with gzip.open(PACKAGED_DIR / "science" / "gpqa_diamond.jsonl.gz", "rt") as lines:
        first = json.loads(next(lines))
    assert "SHOULD NEVER APPEAR IN TRAINING CORPORA" in first["canary"]
    assert len(load_dataset("gpqa_diamond")) == 198


def test_a_plain_jsonl_folder_loads_too(tmp_path: Path) -> None:
    (tmp_path / "math").mkdir()
    (tmp_path / "math" / "gsm8k_test.jsonl").write_text('{"question": "1 + 1?", "answer": "so #### 2"}\n')
    assert [p.answer for p in load_dataset("gsm8k_test", data_dir=tmp_path)] == ["2"]


def test_packaged_data_is_in_the_wheel_manifest() -> None:
    pyproject = (Path(__file__).resolve().parents[3] / "pyproject.toml").read_text()
    assert '"data/packaged/*/*.jsonl.gz"' in pyproject


def test_bad_row_names_the_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "math").mkdir()
    (tmp_path / "math" / "aime25.jsonl").write_text('{"problem": "ok", "answer": "1"}\n{"problem": "no answer"}\n')
    with pytest.raises(ValueError, match=r"aime25\.jsonl:2"):
        load_dataset("aime25", data_dir=tmp_path)


def test_unknown_dataset_is_named() -> None:
    with pytest.raises(ValueError, match="'nope'"):
        load_dataset("nope")
    with pytest.raises(ValueError, match="'gen:nope'"):
        load_dataset("gen:nope")


def test_generator_knobs_pass_through_and_files_refuse_them() -> None:
    problems = load_dataset("gen:tabular", 24, seed=7, knobs={"questions": "max,min"})
    assert {p.meta["question"]["type"] for p in problems} == {"max", "min"}
    assert load_dataset("gen:tabular", 24, seed=7) == load_dataset("gen:tabular", 24, seed=7, knobs={})
    with pytest.raises(ValueError, match="knobs: apply to generated datasets; 'gsm8k_train'"):
        load_dataset("gsm8k_train", 1, knobs={"questions": "max"})
    with pytest.raises(ValueError, match="unknown knob 'colour'"):
        load_dataset("gen:tabular", 1, knobs={"colour": "red"})


def test_list_datasets_names_files_and_generators() -> None:
    names = list_datasets()
    assert names[:8] == list(FILE_DATASETS)
    for name in ("gen:arith", "gen:logic", "gen:countdown", "gen:simulation", "gen:tabular"):
        assert name in names


@pytest.mark.parametrize(("value", "text"), [(27.0, "27"), (-1.0, "-1"), (0.5, "0.5"), (12, "12"), (" 7 ", "7")])
def test_number_text(value: object, text: str) -> None:
    assert number_text(value) == text
