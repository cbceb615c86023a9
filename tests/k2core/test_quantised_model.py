"""Requantised variants of the embedded model: made once by llama.cpp from the shipped Q4_K_M, chosen by a setting."""

from __future__ import annotations

from pathlib import Path

import llama_cpp
import pytest
from llama_cpp import _internals as llama_internals

from k2core.config import EmbeddedSettings
from k2core.models import quantised_model, resolve_model_path


def test_an_unknown_quantisation_is_an_error_naming_the_field(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="quantisation"):
        quantised_model(tmp_path, "q3_k_s")
    with pytest.raises(ValueError, match="quantisation"):
        EmbeddedSettings(quantisation="q3_k_s")


@pytest.mark.slow
def test_q4_0_is_made_once_loads_and_is_chosen_by_the_setting(tmp_path: Path) -> None:
    path = quantised_model(tmp_path, "q4_0")
    assert path.name == "qwen2.5-coder-0.5b-instruct-q4_0.gguf" and path.parent == tmp_path / "models"
    mtime = path.stat().st_mtime_ns
    assert quantised_model(tmp_path, "q4_0") == path and path.stat().st_mtime_ns == mtime  # stamped: not redone
    assert resolve_model_path(EmbeddedSettings(quantisation="q4_0"), tmp_path) == path
    model = llama_internals.LlamaModel(path_model=str(path), params=llama_cpp.llama_model_default_params(),
                                       verbose=False)
    try:
        assert model.metadata()["general.file_type"] == "2"  # LLAMA_FTYPE_MOSTLY_Q4_0
    finally:
        model.close()
