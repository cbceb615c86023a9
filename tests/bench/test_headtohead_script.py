"""Loading the published reference ``main.py`` for ``--reference-script``: bad paths name the option; with a copy
pointed at by ``K2_REFERENCE_SCRIPT``, a real run of it, unchanged, against the shared backend (slow)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bench.headtohead.script import load_script, run_script
from bench.peers import processes
from k2core.data import load_dataset


def test_a_missing_file_or_another_script_names_the_option(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="--reference-script: no file"):
        load_script(tmp_path / "main.py", "http://127.0.0.1:1/v1", "m", "k")
    other = tmp_path / "other.py"
    other.write_text("x = 1\n")
    with pytest.raises(ValueError, match="defines no 'env'"):
        load_script(other, "http://127.0.0.1:1/v1", "m", "k")


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("K2_REFERENCE_SCRIPT"), reason="set K2_REFERENCE_SCRIPT to a copy of main.py")
async def test_the_published_script_runs_unchanged_against_the_backend(embedded_model_path: Path, tmp_path: Path) -> None:
    port = processes.free_port()
    with processes.backend_server(embedded_model_path, port, "m", tmp_path / "backend.log", slots=6, n_ctx=4096):
        module = load_script(Path(os.environ["K2_REFERENCE_SCRIPT"]), f"http://{processes.HOST}:{port}/v1", "m", "k")
        problem = load_dataset("gen:arith", 1, seed=0)[0]
        result = await run_script(module, problem.prompt)
    assert len(result.candidates) == 3 and result.judge_calls == 2 and result.chosen in result.candidates
