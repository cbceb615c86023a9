"""The published K2-Think-Inference ``main.py`` itself, unchanged, pointed at the bench's backend.

The script is loaded from the path the user gives (it is not part of this project); only its ``env`` settings
object is filled in (endpoints, keys, model names), as its own comments ask. Each run builds a fresh
``K2ThinkPipeline`` and awaits ``run(question)``; the samples it made are read back from its own record
(``bon_responses``), its judge chain walks all of them (N-1 calls).
"""

from __future__ import annotations

import importlib.util
import logging
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any


@dataclass
class ScriptRun:
    """What one run of the script produced: every sample slot's text (None where none came back) and the choice."""

    candidates: list[str | None]
    chosen: str
    judge_calls: int


def load_script(path: Path, base_url: str, model: str, api_key: str) -> ModuleType:
    """Import the script as a module of its own and point every endpoint of its ``env`` at ``base_url``."""
    if not path.is_file():
        raise ValueError(f"--reference-script: no file at {path}")
    spec = importlib.util.spec_from_file_location("k2think_reference_main", path)
    if spec is None or spec.loader is None:
        raise ValueError(f"--reference-script: cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for name in ("env", "K2ThinkPipeline"):
        if not hasattr(module, name):
            raise ValueError(f"--reference-script: {path} defines no {name!r}; is it K2-Think-Inference's main.py?")
    for role in ("PLANNER", "SOLVER"):
        setattr(module.env, f"{role}_LLM_BASE_URL", base_url)
        setattr(module.env, f"{role}_LLM_API_KEY", api_key)
        setattr(module.env, f"{role}_LLM_MODEL", model)
    logging.getLogger(module.__name__).setLevel(logging.WARNING)  # it logs every sample's full text at INFO
    return module


def _text(completion: Any) -> str | None:
    return None if completion is None else completion.choices[0].message.content


async def run_script(module: ModuleType, question: str) -> ScriptRun:
    """One request through a fresh pipeline of the script."""
    pipeline = module.K2ThinkPipeline()
    try:
        chosen = await pipeline.run(question)
    finally:
        await pipeline.solver_llm.close()
        await pipeline.planner_llm.close()
    if chosen is None:
        raise RuntimeError("the reference script returned no completion")
    (record,) = pipeline.bon_responses.values()
    candidates = [_text(c) for c in record["completions"]]
    return ScriptRun(candidates=candidates, chosen=_text(chosen) or "", judge_calls=max(0, len(candidates) - 1))
