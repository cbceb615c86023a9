"""Which model a run measured: recorded next to its results so a resumed run never mixes two models."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from k2core.config import EngineSettings, Settings

MODEL_FILE = "model.json"
ROLES = ("planner", "solver", "judge")


def engine_identity(engine: EngineSettings) -> str:
    """One role's model: the backend and what it loads (the embedded GGUF file or quantisation and a quantised KV
    cache, a served name)."""
    if engine.engine != "embedded":
        return f"{engine.engine}:{engine.model}"
    embedded = engine.embedded
    kv = "" if embedded.kv_cache_type == "f16" else f":kv-{embedded.kv_cache_type}"  # a quantised cache changes output
    if embedded.model_path:
        return f"embedded:{Path(embedded.model_path).name}{kv}"
    return f"embedded:{engine.model}:{embedded.quantisation}{kv}"


def model_identity(settings: Settings, target: str = "local") -> dict[str, str]:
    """Every role's model for an in-process run; the gateway address for a remote one (it serves what it serves)."""
    if target != "local":
        return {"target": target}
    return {role: engine_identity(getattr(settings, role)) for role in ROLES}


def check_model(out: Path, identity: Mapping[str, str]) -> None:
    """Record ``identity`` in ``out/model.json``, or refuse to resume a folder measured on another model (a folder
    from before the record adopts this one)."""
    path = out / MODEL_FILE
    if path.exists():
        before = json.loads(path.read_text())
        changed = sorted(key for key in {*before, *identity} if before.get(key) != identity.get(key))
        if changed:
            key = changed[0]
            raise ValueError(
                f"model: {out} holds results of {key}={before.get(key)!r}, this run uses {identity.get(key)!r}; "
                "use another --out"
            )
        return
    out.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(dict(identity), indent=2) + "\n")
