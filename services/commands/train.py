"""`k2think train {sft|rlvr} --config FILE`: launch on the cluster (KubeRay RayJob), print the manifests or the
resolved verl config, or run for real here on a local Ray cluster."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
import yaml
from rich.console import Console
from rich.table import Table

from k2core.config import Settings
from k2core.training.config import JOB_KINDS, TrainConfig, load_config
from services.commands._output import print_json, stderr


def _load(kind: str, path: Path) -> TrainConfig:
    if kind not in JOB_KINDS:
        raise typer.BadParameter(f"expected one of {', '.join(JOB_KINDS)}, got {kind!r}", param_hint="KIND")
    try:
        config = load_config(path)
    except (OSError, ValueError) as exc:
        raise typer.BadParameter(str(exc), param_hint="--config") from exc
    if config.kind != kind:
        raise typer.BadParameter(f"{path} is a {config.kind} job, not {kind}", param_hint="--config")
    return config


def _with_image(config: TrainConfig, overrides: dict[str, str | None]) -> TrainConfig:
    """The job with the image's registry, tag or digest replaced (one command line sets them for both jobs)."""
    given = {k: v for k, v in overrides.items() if v is not None}
    if not given:
        return config
    from pydantic import ValidationError

    from k2core.training.config import ImageConfig

    try:
        image = ImageConfig.model_validate(config.cluster.image.model_dump() | given)
    except ValidationError as exc:
        raise typer.BadParameter(str(exc), param_hint="--image-" + next(iter(given))) from exc
    cluster = config.cluster.model_copy(update={"image": image})
    return config.model_copy(update={"cluster": cluster})


def _with_local(config: TrainConfig, overrides: dict[str, str | int | None]) -> TrainConfig:
    """The job with the local run's starting model, traces file or CPU threads replaced."""
    given = {k: v for k, v in overrides.items() if v is not None}
    if not given:
        return config
    if given.get("traces") and not Path(str(given["traces"])).is_file():
        raise typer.BadParameter(f"{given['traces']} does not exist", param_hint="--traces")
    return config.model_copy(update={"local": config.local.model_copy(update=given)})


def _dry_run(config: TrainConfig, json_output: bool) -> None:
    from k2core.training.verl_config import UnknownConfigKey, build_verl_config, to_plain, validate_with_verl

    try:
        verl_config = build_verl_config(config)
        if config.kind == "rlvr":
            validate_with_verl(verl_config)
    except (UnknownConfigKey, ValueError, AssertionError) as exc:
        raise typer.BadParameter(str(exc), param_hint="--config") from exc
    resolved = to_plain(verl_config)
    if json_output:
        print_json(resolved)
    else:
        typer.echo(yaml.safe_dump(resolved, sort_keys=False), nl=False)


def _emit(config: TrainConfig, path: Path, json_output: bool) -> list[dict[str, Any]]:
    from k2core.training.rayjob import manifests_for_file, to_yaml

    objects = manifests_for_file(config, path)
    if json_output:
        print_json({"manifests": objects})
    else:
        typer.echo(to_yaml(objects), nl=False)
    return objects


def _submit(config: TrainConfig, path: Path, json_output: bool) -> None:
    from k2core.training.rayjob import manifests_for_file, submit

    try:
        from kubernetes.config import ConfigException
    except ImportError as exc:
        raise typer.BadParameter("needs the 'kubernetes' package", param_hint="--submit") from exc
    try:
        applied = submit(manifests_for_file(config, path))
    except ConfigException as exc:
        raise typer.BadParameter(f"no usable kubeconfig context: {exc}", param_hint="--submit") from exc
    if json_output:
        print_json({"applied": applied, "namespace": config.cluster.namespace})
    else:
        for name in applied:
            typer.echo(f"applied {name} in namespace {config.cluster.namespace}")


def _local(config: TrainConfig, steps: int | None, out: Path | None, json_output: bool) -> None:
    if config.kind == "rlvr":
        from k2core.training.local_rlvr import run_local_rlvr as run
    else:
        from k2core.training.local_sft import run_local_sft as run
    summary = run(config, Settings(), steps=steps, out=out, console=stderr)
    if json_output:
        print_json(summary)
        return
    table = Table(show_header=False, box=None, pad_edge=False)
    for key, value in summary.items():
        table.add_row(f"[dim]{key}[/]", f"{value:.4f}" if isinstance(value, float) else json.dumps(value))
    Console().print(table)


def train(
    kind: str = typer.Argument(..., metavar="{sft|rlvr}", help="The job kind."),
    config: Path = typer.Option(..., "--config", "-c", help="The job file (training-jobs/<kind>/config.yaml)."),
    local: bool = typer.Option(False, "--local", help="Run here on a local Ray cluster with the embedded model."),
    emit: bool = typer.Option(False, "--emit", help="Print the ConfigMap + RayJob for `kubectl apply -f -`."),
    submit: bool = typer.Option(False, "--submit", help="Apply the manifests to the current kubeconfig context."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the resolved verl trainer config."),
    json_output: bool = typer.Option(False, "--json", help="Print one JSON object on stdout."),
    steps: int | None = typer.Option(None, "--steps", min=1, help="Local run: number of steps (default: config)."),
    out: Path | None = typer.Option(None, "--out", help="Local run: folder for metrics, curve and checkpoints."),
    model: str | None = typer.Option(None, "--model", help="Local run: 'embedded' or an HF folder (runs/sft/hf)."),
    traces: Path | None = typer.Option(None, "--traces", help="Local SFT: traces.jsonl written by `k2think traces`."),
    threads: int | None = typer.Option(None, "--threads", min=1, help="Local run: CPU threads (default: config)."),
    image_registry: str | None = typer.Option(None, "--image-registry", help="Cluster: registry of k2think-train."),
    image_tag: str | None = typer.Option(None, "--image-tag", help="Cluster: tag of k2think-train."),
    image_digest: str | None = typer.Option(None, "--image-digest", help="Cluster: sha256:... digest pinning it."),
) -> None:
    """Train: with no mode flag, launch on the cluster (same as --submit)."""
    modes = (("--local", local), ("--emit", emit), ("--submit", submit), ("--dry-run", dry_run))
    chosen = [name for name, on in modes if on]
    if len(chosen) > 1:
        raise typer.BadParameter(f"choose one of {', '.join(chosen)}", param_hint="mode")
    if not local and any(v is not None for v in (steps, out, model, traces, threads)):
        message = "--steps, --out, --model, --traces and --threads apply to --local runs only"
        raise typer.BadParameter(message, param_hint="--local")
    job = _load(kind, config)
    job = _with_local(job, {"model": model, "traces": str(traces) if traces else None, "threads": threads})
    job = _with_image(job, {"registry": image_registry, "tag": image_tag, "digest": image_digest})
    if local:
        _local(job, steps, out, json_output)
    elif emit:
        _emit(job, config, json_output)
    elif dry_run:
        _dry_run(job, json_output)
    else:
        _submit(job, config, json_output)


def register(app: typer.Typer) -> None:
    app.command("train")(train)
