"""What every local run shares: its folder (``run.json``, metrics log and curve), checkpoints with resume, the
data order, a quiet local Ray cluster and the progress bar."""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from k2core.training.checkpoint import CheckpointStore, rng_state, set_rng_state
from k2core.training.config import TrainConfig
from k2core.training.hf_model import EMBEDDED, load_trainable_state, trainable_state
from k2core.training.metrics import MetricsLog, plot_curve
from k2core.training.precision import resolve as resolve_precision


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def take(size: int, position: int, count: int, seed: int) -> list[int]:
    """Item indices at positions ``[position, position + count)`` of an endless stream of seeded epoch shuffles."""
    indices = []
    for pos in range(position, position + count):
        epoch, offset = divmod(pos, size)
        order = list(range(size))
        random.Random(f"{seed}:{epoch}").shuffle(order)
        indices.append(order[offset])
    return indices


def start_ray(cpus: int, attempts: int = 3) -> None:
    """A small, quiet local Ray cluster (dashboard UI off, worker logs not echoed to the driver). Ray gives its
    raylet a fixed 30 s to register, which a busy machine can miss, so the start is tried ``attempts`` times."""
    import ray

    for attempt in range(1, attempts + 1):
        if ray.is_initialized():
            return
        try:
            ray.init(
                num_cpus=cpus,
                include_dashboard=False,
                log_to_driver=False,
                logging_level=logging.ERROR,
                namespace="k2think-train",
                runtime_env={"env_vars": {"TOKENIZERS_PARALLELISM": "false"}},
                # Rollout workers run at the trainer's priority (Ray renices workers to 15 by default).
                _system_config={"worker_niceness": 0},
            )
        except Exception as exc:  # Ray raises a bare Exception for a raylet that did not register in time
            if "timed out during startup" not in str(exc) or attempt == attempts:
                raise
            ray.shutdown()


RUN_FILE = "run.json"


def read_run(out: Path) -> dict[str, Any]:
    """A run folder's ``run.json``: the job, the policy it started from and where its checkpoints are."""
    path = out / RUN_FILE
    if not path.is_file():
        raise ValueError(f"{out}: not a local training run (no {RUN_FILE})")
    return json.loads(path.read_text(encoding="utf-8"))


class LocalRun:
    """One run's folder (``run.json``, ``metrics.jsonl``, ``curve.png``), its checkpoints, and resume."""

    def __init__(self, config: TrainConfig, model_dir: Path, steps: int, out: Path, console: Console) -> None:
        local = config.local
        self.steps = steps
        self.out = out
        self.every = local.checkpoint.every
        self.metrics = MetricsLog(out / "metrics.jsonl")
        self.store = CheckpointStore(local.checkpoint.uri or str(out / "checkpoints"), local.checkpoint.keep)
        self.console = console
        base = "Qwen2.5-Coder-0.5B-Instruct" if local.model == EMBEDDED else f"{model_dir.parent.name}/{model_dir.name}"
        self.precision = resolve_precision(local.precision)
        self.model_label = f"{base}, {'LoRA' if local.lora.enabled else 'full'}, {self.precision}"
        record = {"kind": config.kind, "model_dir": str(model_dir.resolve()), "precision": self.precision,
                  "checkpoints": str(self.store.root.resolve()), "config": config.model_dump(mode="json")}  # fmt: skip
        (out / RUN_FILE).write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")

    def resume(self, model: Any, optimizer: torch.optim.Optimizer) -> tuple[int, int]:
        """Restore the newest checkpoint (weights, optimizer, RNG); returns ``(step, data_position)``."""
        state = self.store.load_latest()
        if state is None:
            self.metrics.restart_after(0)
            return 0, 0
        load_trainable_state(model, state["trainable"])
        optimizer.load_state_dict(state["optimizer"])
        set_rng_state(state["rng"])
        self.metrics.restart_after(state["step"])
        self.console.print(f"resumed from {self.store.path(state['step'])}")
        return state["step"], state["data_position"]

    def end_step(
        self, step: int, record: dict[str, Any], model: Any, optimizer: torch.optim.Optimizer, data_position: int
    ) -> None:
        """Log the step's metrics; checkpoint every ``every`` steps and at the last step."""
        self.metrics.append({"step": step, **record})
        if step % self.every == 0 or step == self.steps:
            state = {
                "trainable": trainable_state(model),
                "optimizer": optimizer.state_dict(),
                "rng": rng_state(),
                "data_position": data_position,
            }
            self.store.save(step, state)

    def finish(self, keys: Sequence[str], title: str) -> dict[str, Any]:
        """Draw the curve; returns the run's records and paths."""
        records = self.metrics.records()
        curve = plot_curve(records, keys, self.out / "curve.png", title) if records else None
        latest = self.store.steps()
        return {
            "out": str(self.out),
            "metrics": str(self.metrics.path),
            "curve": str(curve) if curve else None,
            "checkpoint": str(self.store.path(latest[-1])) if latest else None,
            "precision": self.precision,
            "records": records,
        }

    @contextmanager
    def progress(self, title: str, start: int) -> Iterator[Any]:
        """A rich progress bar on stderr; yields ``advance(info)``."""
        columns = (
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            TextColumn("{task.fields[info]}"),
        )
        with Progress(*columns, console=self.console) as bar:
            task = bar.add_task(title, total=self.steps, completed=start, info="")
            yield lambda info: bar.update(task, advance=1, info=info)
