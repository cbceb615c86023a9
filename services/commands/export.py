"""`k2think export`: a local training run as a Hugging Face folder and a GGUF the embedded engine serves."""

from __future__ import annotations

import shutil
from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from services.commands._output import print_json, stderr


def export(
    run: Path = typer.Option(..., "--run", "-r", help="A local run folder (`k2think train ... --local --out DIR`)."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder for hf/, the GGUF, curve.png and manifest.json."),
    quant: str = typer.Option("q4_k_m", "--quant", help="GGUF type: q4_k_m (as the base model), q8_0 or f16."),
    threads: int = typer.Option(2, "--threads", min=1, help="CPU threads for merging and quantizing."),
    force: bool = typer.Option(False, "--force", help="Start over instead of resuming a previous export in --out."),
    json_output: bool = typer.Option(False, "--json", help="Print one JSON object (the manifest) on stdout."),
) -> None:
    """Merge the run's newest checkpoint (LoRA) into its base, write hf/ and model-<quant>.gguf with a manifest of
    the base model, data, steps, curves and file hashes; serve it with K2_SOLVER__EMBEDDED__MODEL_PATH."""
    from k2core.config import Settings
    from k2core.training.export import export_run
    from k2core.training.gguf_export import QUANT_TYPES

    if quant not in QUANT_TYPES:
        raise typer.BadParameter(f"expected one of {', '.join(QUANT_TYPES)}, got {quant!r}", param_hint="--quant")
    if force:
        shutil.rmtree(out, ignore_errors=True)
    stages = 2 if quant == "f16" else 3
    columns = (TextColumn("[bold]export"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TextColumn("{task.fields[info]}"))  # fmt: skip
    with Progress(*columns, console=stderr) as bar:
        task = bar.add_task("export", total=stages, info="")
        seen: list[str] = []

        def on_stage(stage: str) -> None:
            bar.update(task, completed=len(seen), info=stage)
            seen.append(stage)

        try:
            manifest = export_run(run, out, Settings(), quant=quant, threads=threads, on_stage=on_stage)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--run") from exc
        bar.update(task, completed=stages, info="done")
    if json_output:
        print_json({"out": str(out), **manifest})
    else:
        typer.echo(f"wrote {out / manifest['gguf']}; serve it with {manifest['serve']}")


def register(app: typer.Typer) -> None:
    app.command("export")(export)
