"""`k2think data`: dataset listing and export to verl's RL parquet."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.progress import Progress

from k2core.config import Settings
from k2core.data import data_dir, dataset_domain, export_verl, list_datasets
from k2core.data.decontam import ContaminationError
from services.commands._output import print_json, stderr

data_app = typer.Typer(name="data", help="Datasets: list them, export them for verl.", no_args_is_help=True)


@data_app.command("list")
def list_command(json_output: bool = typer.Option(False, "--json", help="Print one JSON object on stdout.")) -> None:
    """List every dataset name with its grading domain."""
    domains = {name: dataset_domain(name) for name in list_datasets()}
    if json_output:
        print_json({"datasets": domains})
    else:
        for name, domain in domains.items():
            typer.echo(f"{name}\t{domain}")


def parse_sources(sources: str) -> list[str]:
    """Comma-separated dataset names; an unknown or empty list is a bad parameter naming ``--sources``."""
    names = [s.strip() for s in sources.split(",") if s.strip()]
    unknown = [n for n in names if n not in list_datasets()]
    if unknown or not names:
        known = ", ".join(list_datasets())
        message = f"unknown dataset(s) {', '.join(unknown) or '(none given)'}; known: {known}"
        raise typer.BadParameter(message, param_hint="--sources")
    return names


@data_app.command("export-verl")
def export_verl_command(
    sources: str = typer.Option(..., "--sources", help="Comma-separated dataset names, e.g. gsm8k_train,gen:arith."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder for train.parquet and test.parquet."),
    test_fraction: float = typer.Option(0.1, "--test-fraction", min=0.0, max=1.0, help="Share of each source."),
    limit: int | None = typer.Option(None, "--limit", min=1, help="At most this many problems per source."),
    seed: int = typer.Option(0, "--seed", help="Seed for generated sources and the split."),
    drop_overlaps: bool = typer.Option(
        False, "--drop-overlaps", help="Leave out problems sharing a 13-gram with an evaluation set, not refuse."
    ),
    json_output: bool = typer.Option(False, "--json", help="Print one JSON object on stdout."),
) -> None:
    """Write verl RL parquet (train/test) from training datasets, decontaminated against every evaluation set."""
    names = parse_sources(sources)
    with Progress(console=stderr) as progress:
        task = progress.add_task("export-verl", total=len(names))

        def loaded(name: str, count: int) -> None:
            progress.update(task, advance=1, description=f"{name} ({count})")

        try:
            summary = export_verl(names, out, test_fraction=test_fraction, limit=limit, seed=seed,
                                  drop_overlaps=drop_overlaps, on_source=loaded,
                                  data_dir=data_dir(Settings()))  # fmt: skip
        except ContaminationError as exc:
            raise typer.BadParameter(str(exc), param_hint="--sources") from exc
    if json_output:
        print_json(summary)
    else:
        typer.echo(f"wrote {summary['train']} train and {summary['test']} test rows to {out}")


def register(app: typer.Typer) -> None:
    app.add_typer(data_app, name="data")
