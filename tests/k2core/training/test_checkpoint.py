"""Checkpoints: atomic step folders, the newest two kept, RNG restored, only local URIs."""

from __future__ import annotations

import random

import pytest
import torch

from k2core.training.checkpoint import CheckpointStore, local_path, rng_state, set_rng_state


def test_keeps_the_newest_two_and_loads_the_latest(tmp_path):
    store = CheckpointStore(f"file://{tmp_path}/ck", keep=2)
    assert store.load_latest() is None
    for step in (1, 2, 3):
        store.save(step, {"trainable": {"w": torch.full((2,), float(step))}, "data_position": step * 4})
    (tmp_path / "ck" / ".step_4.tmp").mkdir()  # a save killed midway is ignored
    assert store.steps() == [2, 3]
    state = store.load_latest()
    assert state["step"] == 3 and state["data_position"] == 12
    assert state["trainable"]["w"].tolist() == [3.0, 3.0]


def test_rng_state_round_trips():
    saved = rng_state()
    first = (random.random(), torch.rand(1).item())
    set_rng_state(saved)
    assert (random.random(), torch.rand(1).item()) == first


def test_only_local_paths():
    assert str(local_path("file:///mnt/pvc/ck")) == "/mnt/pvc/ck"
    with pytest.raises(ValueError, match="checkpoint.uri"):
        local_path("s3://bucket/ck")
