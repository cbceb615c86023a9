"""Per-step training metrics: one JSON line per step, and a PNG curve per run."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any


class MetricsLog:
    """``metrics.jsonl`` of a run; on resume, lines after the restored step are dropped so steps never repeat."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)

    def records(self) -> list[dict[str, Any]]:
        if not self.path.is_file():
            return []
        with self.path.open(encoding="utf-8") as lines:
            return [json.loads(line) for line in lines if line.strip()]

    def restart_after(self, step: int) -> None:
        """Keep only the records up to ``step`` (0 empties the log)."""
        kept = [r for r in self.records() if r["step"] <= step]
        self.path.write_text("".join(json.dumps(r) + "\n" for r in kept), encoding="utf-8")

    def append(self, record: dict[str, Any]) -> None:
        with self.path.open("a", encoding="utf-8") as out:
            out.write(json.dumps(record) + "\n")


def thirds(values: Sequence[float]) -> tuple[float, float]:
    """Mean of the first third and of the last third of a series (DESIGN's "the curve rises" check)."""
    third = max(1, len(values) // 3)
    return sum(values[:third]) / third, sum(values[-third:]) / third


def plot_curve(records: Sequence[dict[str, Any]], keys: Sequence[str], path: Path, title: str) -> Path:
    """One small panel per metric against the step, saved as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(keys), 1, figsize=(6, 1.8 * len(keys)), sharex=True, squeeze=False)
    steps = [r["step"] for r in records]
    for axis, key in zip(axes[:, 0], keys):
        axis.plot(steps, [r.get(key) for r in records], marker="o", markersize=3, linewidth=1.2)
        axis.set_ylabel(key, fontsize=8)
        axis.grid(alpha=0.3)
    axes[-1, 0].set_xlabel("step")
    axes[0, 0].set_title(title, fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path
