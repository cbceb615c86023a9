"""Export a local run: the base policy with the run's newest checkpoint (LoRA merged into the weights), written as a
Hugging Face folder (safetensors, tokenizer, config) and a GGUF the embedded engine serves, with a manifest of
where it came from (base model, data, steps, curves) and the sha256 of every file. Each stage is written
atomically and skipped on a rerun when its output is there."""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from k2core.config import Settings
from k2core.models import DEFAULT_MODEL, ensure_embedded_model, file_sha256
from k2core.training.checkpoint import CheckpointStore
from k2core.training.config import HF_DIR, LoraConfig
from k2core.training.hf_model import EMBEDDED, load_policy, load_trainable_state
from k2core.training.local_run import read_run
from k2core.training.metrics import MetricsLog

LINEAGE_FILE = "k2think-lineage.json"
MANIFEST_FILE = "manifest.json"
CURVES = {"sft": "loss", "rlvr": "reward_mean"}


def file_entry(path: Path) -> dict[str, Any]:
    return {"sha256": file_sha256(path), "bytes": path.stat().st_size}


def base_model() -> dict[str, Any]:
    """The embedded GGUF every lineage starts from."""
    return {"label": DEFAULT_MODEL.label, "file": DEFAULT_MODEL.file_name, "origin": DEFAULT_MODEL.origin,
            "licence": DEFAULT_MODEL.licence, "sha256": DEFAULT_MODEL.sha256, "bytes": DEFAULT_MODEL.size}  # fmt: skip


def run_entry(run_dir: Path, run: dict[str, Any], step: int) -> dict[str, Any]:
    """One training run of a lineage: job, data, steps and its curve."""
    local = run["config"]["local"]
    metrics = MetricsLog(run_dir / "metrics.jsonl")
    entry: dict[str, Any] = {
        "kind": run["kind"], "name": run["config"]["name"], "run": str(run_dir), "step": step,
        "dataset": local["dataset"], "limit": local["limit"], "seed": local["seed"], "lora": local["lora"],
        "metrics": {"file": str(metrics.path), **file_entry(metrics.path)},
        "curve": {CURVES[run["kind"]]: [r[CURVES[run["kind"]]] for r in metrics.records()]},
    }  # fmt: skip
    if local.get("traces"):
        entry["traces"] = {"file": local["traces"], **file_entry(Path(local["traces"]))}
    return entry


def lineage(run_dir: Path) -> list[dict[str, Any]]:
    """The runs that made this run's starting policy (read from its folder), then this run."""
    run = read_run(run_dir)
    steps = CheckpointStore(run["checkpoints"], keep=1).steps()
    if not steps:
        raise ValueError(f"--run: {run_dir} has no checkpoint to export")
    parent = Path(run["model_dir"]) / LINEAGE_FILE
    before = json.loads(parent.read_text(encoding="utf-8")) if run["config"]["local"]["model"] != EMBEDDED else []
    if run["config"]["local"]["model"] != EMBEDDED and not parent.is_file():
        raise ValueError(f"--run: its starting model {run['model_dir']} has no {LINEAGE_FILE} (not exported here)")
    return [*before, run_entry(run_dir, run, steps[-1])]


def merged_model(run_dir: Path) -> tuple[Any, Any]:
    """The run's starting policy with its newest checkpoint applied and LoRA merged; and its tokenizer."""
    from transformers import AutoTokenizer

    run = read_run(run_dir)
    lora = LoraConfig(**run["config"]["local"]["lora"])
    state = CheckpointStore(run["checkpoints"], keep=1).load_latest()
    if state is None:
        raise ValueError(f"--run: {run_dir} has no checkpoint to export")
    model = load_policy(Path(run["model_dir"]), lora)
    load_trainable_state(model, state["trainable"])
    if lora.enabled:
        model = model.merge_and_unload()
    return model.eval(), AutoTokenizer.from_pretrained(run["model_dir"])


def save_hf(run_dir: Path, target: Path) -> Path:
    """The merged model as an HF folder (safetensors, tokenizer, config, generation config, lineage)."""
    model, tokenizer = merged_model(run_dir)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        (tmp / LINEAGE_FILE).write_text(json.dumps(lineage(run_dir), indent=1) + "\n", encoding="utf-8")
        shutil.rmtree(target, ignore_errors=True)
        os.replace(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def plot_lineage(entries: list[dict[str, Any]], path: Path) -> Path:
    """One panel per run of the lineage: its loss or reward against the step."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(entries), 1, figsize=(6, 2.2 * len(entries)), squeeze=False)
    for axis, entry in zip(axes[:, 0], entries):
        ((key, values),) = entry["curve"].items()
        axis.plot(range(1, len(values) + 1), values, marker="o", markersize=3, linewidth=1.2)
        axis.set_title(f"{entry['kind']} on {entry['dataset'] or 'traces'}", fontsize=9)
        axis.set_ylabel(key, fontsize=8)
        axis.grid(alpha=0.3)
    axes[-1, 0].set_xlabel("step")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


def export_run(
    run_dir: Path,
    out: Path,
    settings: Settings,
    quant: str = "q4_k_m",
    threads: int = 2,
    on_stage: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Write ``out/hf/``, ``out/model-<quant>.gguf``, ``out/curve.png``, ``out/metrics.jsonl`` (one line per
    stage) and ``out/manifest.json``; returns the manifest."""
    import torch
    from safetensors.torch import load_file

    from k2core.training.gguf_export import quantize, write_f16_gguf

    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob(".*.tmp"):  # what a killed export was writing
        shutil.rmtree(stale) if stale.is_dir() else stale.unlink()
    log = MetricsLog(out / "metrics.jsonl")
    hf, f16, gguf = out / HF_DIR, out / "model-f16.gguf", out / f"model-{quant}.gguf"
    base_gguf = ensure_embedded_model(settings)  # the tokenizer and metadata the GGUF export copies

    def f16_stage() -> None:
        state = {k: v for f in sorted(hf.glob("*.safetensors")) for k, v in load_file(f).items()}
        write_f16_gguf(state, base_gguf, f16, f"k2think {read_run(run_dir)['config']['name']}")

    stages: list[tuple[str, Path, Callable[[], Any]]] = [
        ("hf", hf / "config.json", lambda: save_hf(run_dir, hf)),
        ("gguf-f16", f16, f16_stage),
    ]
    if quant != "f16":
        stages.append((f"gguf-{quant}", gguf, lambda: quantize(f16, gguf, quant, threads)))
    torch.set_num_threads(threads)
    for stage, done_marker, action in stages:
        if on_stage:
            on_stage(stage)
        if done_marker.exists():
            continue
        began = time.perf_counter()
        action()
        log.append({"step": len(log.records()) + 1, "stage": stage, "seconds": time.perf_counter() - began})
    if quant != "f16":
        f16.unlink(missing_ok=True)
    entries = json.loads((hf / LINEAGE_FILE).read_text(encoding="utf-8"))
    files = sorted([*(p for p in hf.iterdir() if p.is_file()), gguf])
    manifest = {
        "base_model": base_model(),
        "lineage": entries,
        "quant": quant,
        "gguf": gguf.name,
        "files": {str(p.relative_to(out)): file_entry(p) for p in files},
        "curve": str(plot_lineage(entries, out / "curve.png").relative_to(out)),
        "serve": f"K2_SOLVER__EMBEDDED__MODEL_PATH={gguf}",  # as --out was given: no machine path in a manifest
    }
    tmp = out / f".{MANIFEST_FILE}.tmp"
    tmp.write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, out / MANIFEST_FILE)
    return manifest
