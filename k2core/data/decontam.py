"""Decontamination: no training prompt may share a 13-word sequence with an evaluation prompt.

Evaluation sets are never training sources; every other source is checked n-gram by n-gram against every
evaluation prompt (lower-cased words, the shared answer-format instructions left out, as they are boilerplate)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from k2core.data import instructions
from k2core.data.datasets import load_dataset
from k2core.data.problem import Problem

EVAL_DATASETS: tuple[str, ...] = ("aime24", "aime25", "amc23", "math500", "gsm8k_test", "gpqa_diamond", "humaneval")
NGRAM = 13
_WORD = re.compile(r"\w+")
_BOILERPLATE = tuple(v for k, v in vars(instructions).items() if k.isupper() and isinstance(v, str))


class ContaminationError(ValueError):
    """A training source is an evaluation set or shares a 13-gram with one."""


@dataclass(frozen=True)
class Overlap:
    """One training problem that shares an n-gram with an evaluation problem."""

    source: str
    problem_id: str
    eval_dataset: str
    eval_id: str
    ngram: str


def words(text: str) -> list[str]:
    """Lower-cased words of a prompt without the answer-format instructions."""
    for boilerplate in _BOILERPLATE:
        text = text.replace(boilerplate, " ")
    return _WORD.findall(text.lower())


def ngrams(text: str, n: int = NGRAM) -> set[str]:
    """Every run of ``n`` consecutive words, joined by spaces."""
    tokens = words(text)
    return {" ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1)}


@cache
def eval_index(n: int = NGRAM, data_dir: Path | None = None) -> dict[str, tuple[str, str]]:
    """Every evaluation n-gram -> (dataset, problem id) of its first occurrence, from the evaluation sets in
    ``data_dir`` (None: the packaged data) — the same files the evaluation reads."""
    index: dict[str, tuple[str, str]] = {}
    for dataset in EVAL_DATASETS:
        for problem in load_dataset(dataset, data_dir=data_dir):
            for gram in ngrams(problem.prompt, n):
                index.setdefault(gram, (dataset, problem.id))
    return index


def overlaps(source: str, problems: Iterable[Problem], n: int = NGRAM, data_dir: Path | None = None) -> list[Overlap]:
    """The problems of ``source`` that share an n-gram with an evaluation prompt (one Overlap each)."""
    index = eval_index(n, data_dir)
    found = []
    for problem in problems:
        hit = next((gram for gram in ngrams(problem.prompt, n) if gram in index), None)
        if hit is not None:
            found.append(Overlap(source, problem.id, *index[hit], hit))
    return found


def check_source_name(source: str) -> None:
    """An evaluation set named as a training source is refused."""
    if source in EVAL_DATASETS:
        raise ContaminationError(
            f"source {source!r} is an evaluation set ({', '.join(EVAL_DATASETS)} are never trained on)"
        )


def decontaminate(
    source: str, problems: Sequence[Problem], drop: bool = False, data_dir: Path | None = None
) -> list[Problem]:
    """The problems of ``source`` that are safe to train on. An evaluation set is always refused; overlapping
    problems (against the evaluation sets in ``data_dir``) are refused naming both sides, or left out when
    ``drop`` is set."""
    check_source_name(source)
    found = overlaps(source, problems, data_dir=data_dir)
    if found and not drop:
        first = found[0]
        raise ContaminationError(
            f"source {source!r}: {len(found)} of {len(problems)} problems share a {NGRAM}-gram with an evaluation "
            f"set, e.g. {first.problem_id} with {first.eval_dataset} {first.eval_id}: {first.ngram!r}"
        )
    dropped = {o.problem_id for o in found}
    return [p for p in problems if p.id not in dropped]
