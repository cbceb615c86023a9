"""A run's folder records the model it measured; resuming it with another model is refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from k2core.config import Settings
from k2core.eval.identity import MODEL_FILE, check_model, model_identity


def test_identity_names_each_roles_model_quantisation_and_kv_cache() -> None:
    settings = Settings()
    assert model_identity(settings)["solver"] == "embedded:qwen2.5-coder-0.5b-instruct:q4_k_m:kv-q8_0"
    settings.solver.embedded.kv_cache_type = "f16"  # the cache before it was quantised names no cache
    assert model_identity(settings)["solver"] == "embedded:qwen2.5-coder-0.5b-instruct:q4_k_m"
    settings.solver.embedded.quantisation = "q4_0"
    settings.judge.embedded.model_path = "runs/gain/export/model-q4_k_m.gguf"
    identity = model_identity(settings)
    assert identity["solver"].endswith(":q4_0") and identity["judge"] == "embedded:model-q4_k_m.gguf:kv-q8_0"
    settings.planner.engine = "openai"
    assert model_identity(settings)["planner"] == "openai:qwen2.5-coder-0.5b-instruct"
    assert model_identity(settings, "127.0.0.1:50051") == {"target": "127.0.0.1:50051"}


def test_a_folder_keeps_its_model_and_refuses_another(tmp_path: Path) -> None:
    settings = Settings()
    check_model(tmp_path, model_identity(settings))
    recorded = json.loads((tmp_path / MODEL_FILE).read_text())
    check_model(tmp_path, model_identity(settings))  # the same model resumes
    settings.solver.embedded.quantisation = "q8_0"
    with pytest.raises(ValueError, match=r"^model: .*solver='embedded:qwen2.5-coder-0.5b-instruct:q4_k_m:kv-q8_0'.*q8_0:kv-q8_0"):
        check_model(tmp_path, model_identity(settings))
    assert json.loads((tmp_path / MODEL_FILE).read_text()) == recorded


def test_a_folder_from_before_the_record_adopts_the_model(tmp_path: Path) -> None:
    (tmp_path / "results.jsonl").write_text("")
    check_model(tmp_path, {"solver": "embedded:x"})
    assert json.loads((tmp_path / MODEL_FILE).read_text()) == {"solver": "embedded:x"}
