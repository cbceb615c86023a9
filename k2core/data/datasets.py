"""One entry point for every dataset: the real files of INDEX.md and the ``gen:<name>`` generators."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from k2core.data.files import FILE_DATASETS, PACKAGED_DIR
from k2core.data.generators import GENERATORS, Generator
from k2core.data.problem import Problem
from k2core.data.subsets import seeded_subset

GEN_PREFIX = "gen:"
DEFAULT_GENERATED = 100


def list_datasets() -> list[str]:
    """Every dataset name: the files first, then ``gen:<name>`` for each generator."""
    return [*FILE_DATASETS, *(GEN_PREFIX + name for name in GENERATORS)]


def generator(name: str) -> Generator:
    """The generator behind ``gen:<name>`` (the bare ``<name>`` is accepted too); unknown -> ValueError."""
    bare = name.removeprefix(GEN_PREFIX)
    if bare not in GENERATORS:
        raise ValueError(f"unknown generator {name!r}; expected one of {', '.join(GENERATORS)}")
    return GENERATORS[bare]


def dataset_domain(name: str) -> str:
    """The grading domain of a dataset name (``gsm8k_train`` -> math, ``gen:countdown`` -> simulation)."""
    if name in FILE_DATASETS:
        return FILE_DATASETS[name].domain
    if name.startswith(GEN_PREFIX):
        return generator(name).domain
    raise _unknown(name)


def generate(name: str, count: int, seed: int = 0, knobs: Mapping[str, Any] | None = None) -> Iterator[Problem]:
    """Problems from generator ``name`` (``gen:arith`` or ``arith``) with difficulty knobs; same seed, same items."""
    return generator(name).iterate(count, seed, knobs)


def load_dataset(
    name: str,
    limit: int | None = None,
    seed: int = 0,
    data_dir: Path | None = None,
    sample: int | None = None,
    knobs: Mapping[str, Any] | None = None,
) -> list[Problem]:
    """A dataset as Problems. Files keep file order and ``limit`` takes the first rows, or ``sample`` draws a seeded
    subset of that size (stratified where the file has strata, e.g. MATH-500 by level); ``gen:`` names make
    ``limit`` problems (DEFAULT_GENERATED when None) from ``seed`` with the generator's ``knobs``. Files come from
    ``data_dir`` (the caller's ``data_dir(settings)``), else the packaged data."""
    if knobs and name in FILE_DATASETS:
        raise ValueError(f"knobs: apply to generated datasets; {name!r} is a file")
    if name in FILE_DATASETS:
        dataset = FILE_DATASETS[name]
        if sample is None:
            return dataset.load(data_dir or PACKAGED_DIR, limit)
        if limit is not None:
            raise ValueError("sample: takes the place of limit; give one of them")
        return seeded_subset(dataset.load(data_dir or PACKAGED_DIR), sample, seed, dataset.strata)
    if sample is not None:
        raise ValueError(f"sample: applies to file datasets; {name!r} is generated (use limit and seed)")
    if name.startswith(GEN_PREFIX) and name[len(GEN_PREFIX) :] in GENERATORS:
        return list(generate(name, DEFAULT_GENERATED if limit is None else limit, seed, knobs))
    raise _unknown(name)


def _unknown(name: str) -> ValueError:
    return ValueError(f"unknown dataset {name!r}; expected one of {', '.join(list_datasets())}")
