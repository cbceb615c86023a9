"""The bench registry accounts for every module in ``bench/``: each ``*_bench.py`` is a registered bench with a
``main``, every other module or package is a part of one (or the registry's own machinery), and names, result files
and needs are well formed."""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

import pytest

import bench
from bench import registry
from bench.registry import Need

PACKAGE = Path(bench.__file__).parent
MACHINERY = {"bench.registry", "bench.summary", "bench.paths"}  # lists, summarises and places the benches


def modules_in_bench() -> set[str]:
    """Every top-level module (``*.py``) and package (a folder with ``__init__.py``) of ``bench/``."""
    found = {f"bench.{path.stem}" for path in PACKAGE.glob("*.py") if path.stem != "__init__"}
    return found | {f"bench.{path.parent.name}" for path in PACKAGE.glob("*/__init__.py")}


def test_every_bench_module_is_registered() -> None:
    entries = {b.module for b in registry.BENCHES}
    benches = {f"bench.{path.stem}" for path in PACKAGE.glob("*_bench.py")}
    assert benches - entries == set(), "a *_bench.py module has no registry entry"
    parts = {part for b in registry.BENCHES for part in b.parts}
    unaccounted = modules_in_bench() - entries - parts - MACHINERY
    assert unaccounted == set(), "add these to a bench's parts (or register them as benches)"


def test_every_entry_defines_its_main_and_every_part_exists() -> None:
    for b in registry.BENCHES:
        module, _, function = b.entry.partition(":")
        spec = importlib.util.find_spec(module)
        assert spec is not None and spec.origin is not None, b.entry
        tree = ast.parse(Path(spec.origin).read_text())
        defined = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
        imported = {a.asname or a.name for n in tree.body if isinstance(n, ast.ImportFrom) for a in n.names}
        assert function in defined | imported, f"{b.entry}: no {function}"
        assert all(importlib.util.find_spec(part) is not None for part in b.parts), b.parts


def test_names_results_and_needs_are_well_formed() -> None:
    names = registry.names()
    assert len(set(names)) == len(names) and all(name.isidentifier() for name in names)
    results = [b.result for b in registry.BENCHES]
    assert len(set(results)) == len(results), "two benches write the same results file"
    for b in registry.BENCHES:
        assert b.description and "\n" not in b.description and len(b.description) <= 110, b.name
        assert b.writes[0].endswith(".json") and all(isinstance(need, Need) for need in b.needs), b.name
    assert Need.GPU in registry.get("gpu_specdec").needs and Need.PEER in registry.get("headtohead").needs
    assert registry.headlines()["services"][0] == "grpc added p50 ms"  # keyed by the results file, not the name


def test_unknown_name_names_every_bench() -> None:
    with pytest.raises(registry.UnknownBench, match="unknown bench 'nope'; expected one of verify, engine"):
        registry.get("nope")
