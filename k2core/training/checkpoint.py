"""Checkpoints as ``step_<n>/`` folders under a local path, ``file://`` URI or PVC mount: written to a temporary
folder then renamed (a killed run never leaves half a checkpoint), the newest ``keep`` kept."""

from __future__ import annotations

import json
import random
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch

_STEP_DIR = re.compile(r"^step_(\d+)$")
STATE_FILE = "state.pt"


def local_path(uri: str) -> Path:
    """The folder a checkpoint URI names; only local paths (a PVC is mounted as one) are supported."""
    if uri.startswith("file://"):
        return Path(uri.removeprefix("file://"))
    if "://" in uri:
        raise ValueError(f"checkpoint.uri: {uri!r} is not a local path or file:// URI (mount the volume instead)")
    return Path(uri).expanduser()


def rng_state() -> dict[str, Any]:
    """Python, NumPy and torch generator states."""
    return {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what ``rng_state`` captured."""
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])


class CheckpointStore:
    """The checkpoints of one run."""

    def __init__(self, uri: str, keep: int) -> None:
        self.root = local_path(uri)
        self.keep = keep

    def steps(self) -> list[int]:
        """Steps of the complete checkpoints, oldest first."""
        if not self.root.is_dir():
            return []
        found = (_STEP_DIR.match(p.name) for p in self.root.iterdir() if (p / STATE_FILE).is_file())
        return sorted(int(m.group(1)) for m in found if m)

    def path(self, step: int) -> Path:
        return self.root / f"step_{step}"

    def save(self, step: int, state: dict[str, Any]) -> Path:
        """Write ``state`` (tensors, optimizer state, counters, RNG) for ``step``; prune to the newest ``keep``."""
        target = self.path(step)
        tmp = self.root / f".step_{step}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        torch.save({"step": step, **state}, tmp / STATE_FILE)
        (tmp / "meta.json").write_text(json.dumps({"step": step}) + "\n", encoding="utf-8")
        shutil.rmtree(target, ignore_errors=True)
        tmp.rename(target)
        for old in self.steps()[: -self.keep]:
            shutil.rmtree(self.path(old), ignore_errors=True)
        return target

    def load_latest(self) -> dict[str, Any] | None:
        """The newest checkpoint's state, or None when there is none."""
        steps = self.steps()
        if not steps:
            return None
        return torch.load(self.path(steps[-1]) / STATE_FILE, weights_only=False)
