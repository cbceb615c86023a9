"""Decontamination: evaluation sets are never training sources, and a 13-gram shared with any evaluation prompt
refuses the source (naming it and the evaluation item) or, when asked, drops the overlapping problems."""

from __future__ import annotations

from pathlib import Path

import pytest

from k2core.data import Problem, export_verl, load_dataset
from k2core.data.decontam import (
    EVAL_DATASETS,
    NGRAM,
    ContaminationError,
    decontaminate,
    eval_index,
    ngrams,
    overlaps,
)
from k2core.data.instructions import BOXED


def test_every_evaluation_set_is_indexed():
    sources = {dataset for dataset, _ in eval_index().values()}
    assert sources == set(EVAL_DATASETS)
    assert {"aime24", "aime25", "amc23", "math500", "gsm8k_test", "gpqa_diamond", "humaneval"} == set(EVAL_DATASETS)


def test_ngrams_ignore_case_punctuation_and_the_answer_format_instruction():
    text = "One, two THREE four five six seven eight nine ten eleven twelve thirteen!"
    assert ngrams(text) == {"one two three four five six seven eight nine ten eleven twelve thirteen"}
    assert ngrams("only twelve words " * 0 + "a b c d e f g h i j k l") == set()
    assert ngrams(f"short question\n\n{BOXED}") == set(), "the shared instruction is boilerplate, not content"


@pytest.mark.parametrize("dataset", EVAL_DATASETS)
def test_an_evaluation_set_is_refused_by_name(dataset, tmp_path: Path):
    with pytest.raises(ContaminationError, match=f"source '{dataset}' is an evaluation set"):
        export_verl(["gen:arith", dataset], tmp_path, limit=2)
    assert not (tmp_path / "train.parquet").exists(), "nothing is written for a refused mix"


def test_a_copied_evaluation_problem_is_found_with_both_names():
    aime = load_dataset("aime24", limit=3)[2]
    reworded = Problem("mine-7", "math", "Warm-up first. " + aime.prompt.upper(), aime.answer)
    clean = Problem("mine-8", "math", "What is 2 + 2?", "4")
    found = overlaps("my_set", [clean, reworded])
    assert [(o.problem_id, o.eval_dataset, o.eval_id) for o in found] == [("mine-7", "aime24", aime.id)]
    assert len(found[0].ngram.split()) == NGRAM
    with pytest.raises(ContaminationError, match=rf"source 'my_set': 1 of 2 .*mine-7 with aime24 {aime.id}"):
        decontaminate("my_set", [clean, reworded])
    assert decontaminate("my_set", [clean, reworded], drop=True) == [clean]


def test_gsm8k_train_shares_four_problems_with_gsm8k_test():
    found = overlaps("gsm8k_train", load_dataset("gsm8k_train"))
    assert len(found) == 4 and {o.eval_dataset for o in found} == {"gsm8k_test"}


@pytest.mark.parametrize("source", ["gen:arith", "gen:countdown", "gen:logic", "gen:simulation", "gen:tabular"])
def test_generated_sources_are_clean(source):
    assert overlaps(source, load_dataset(source, limit=200)) == []


def test_export_refuses_an_overlapping_mix_or_drops_the_overlaps(tmp_path: Path):
    with pytest.raises(ContaminationError, match="source 'gsm8k_train': 1 of 30 .*gsm8k_test"):
        export_verl(["gen:arith", "gsm8k_train"], tmp_path, limit=30)
    summary = export_verl(["gen:arith", "gsm8k_train"], tmp_path, limit=30, drop_overlaps=True)
    assert summary["dropped"] == {"gen:arith": 0, "gsm8k_train": 1}
    assert summary["train"] + summary["test"] == 59


def test_the_check_reads_the_evaluation_sets_the_evaluation_reads(tmp_path: Path):
    """With another data folder, overlap is checked against that folder's evaluation sets, not the packaged ones."""
    import shutil

    from k2core.data.datasets import PACKAGED_DIR

    shutil.copytree(PACKAGED_DIR, tmp_path, dirs_exist_ok=True)
    (tmp_path / "math" / "aime25.jsonl.gz").unlink()
    secret = "a locally added evaluation question about seven purple giraffes crossing a narrow wooden bridge at dawn"
    (tmp_path / "math" / "aime25.jsonl").write_text(f'{{"problem": "{secret}", "answer": "7"}}\n')
    training = [Problem(id="t-1", domain="math", prompt=f"Consider {secret}.", answer="7")]
    assert decontaminate("gen:arith", training) == training, "the packaged sets do not hold the local question"
    with pytest.raises(ContaminationError, match="aime25"):
        decontaminate("gen:arith", training, data_dir=tmp_path)
    assert decontaminate("gen:arith", training, drop=True, data_dir=tmp_path) == []
