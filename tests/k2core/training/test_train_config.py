"""Job files: the committed ones parse; typos and wrong types are errors naming the field."""

from __future__ import annotations

import pytest

from k2core.data import dataset_domain
from k2core.data.decontam import EVAL_DATASETS
from k2core.training.config import TRAINING_SOURCES, load_config, parse_config

from .conftest import REPO


@pytest.mark.parametrize("kind", ["sft", "rlvr"])
def test_committed_job_files_parse(kind):
    config = load_config(REPO / "training-jobs" / kind / "config.yaml")
    assert config.kind == kind
    assert config.local.lora.enabled, "local runs train LoRA adapters by default"
    assert config.local.checkpoint.keep == 2


@pytest.mark.parametrize("kind", ["sft", "rlvr"])
def test_no_job_file_trains_on_an_evaluation_set(kind):
    config = load_config(REPO / "training-jobs" / kind / "config.yaml")
    assert not {*config.data.sources, config.local.dataset} & set(EVAL_DATASETS)


def test_rlvr_sources_cover_every_domain_with_training_data():
    config = load_config(REPO / "training-jobs" / "rlvr" / "config.yaml")
    assert {dataset_domain(s) for s in config.data.sources} == {dataset_domain(s) for s in TRAINING_SOURCES}
    assert {dataset_domain(s) for s in TRAINING_SOURCES} == {"math", "logic", "simulation", "tabular"}


@pytest.mark.parametrize("field", ["data: {sources: [gen:arith, humaneval]}", "local: {dataset: gsm8k_test}"])
def test_an_evaluation_set_as_training_source_is_refused(field):
    with pytest.raises(ValueError, match="is an evaluation set"):
        parse_config(f"kind: rlvr\nname: x\n{field}\n")


def test_unknown_field_is_rejected_with_its_name():
    with pytest.raises(ValueError, match="bogus"):
        parse_config("kind: rlvr\nname: x\nlocal: {bogus: 1}\n")


def test_bad_kind_and_ranges_are_rejected():
    with pytest.raises(ValueError, match="kind"):
        parse_config("kind: ppo\nname: x\n")
    with pytest.raises(ValueError, match="format_weight"):
        parse_config("kind: rlvr\nname: x\nreward: {format_weight: 2}\n")
    with pytest.raises(ValueError, match="top level"):
        parse_config("- a list\n")
