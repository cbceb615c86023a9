"""`k2think traces`: verified solver traces (rejection sampling) in the AM-Thinking chat format, for SFT."""

from __future__ import annotations

from pathlib import Path

import typer

from services.commands._output import print_json, stderr
from services.commands.generate import parse_knobs


def traces(
    dataset: str = typer.Option(
        "gsm8k_train", "--dataset", "-d", help="A training dataset (evaluation sets are refused)."
    ),
    out: Path = typer.Option(Path("runs/traces"), "--out", "-o", help="Folder for traces.jsonl, metrics and curve."),
    limit: int = typer.Option(64, "--limit", min=1, help="Problems to sample (the first ones, or generated)."),
    seed: int = typer.Option(0, "--seed", help="Seed of generated datasets and of sampling."),
    samples: int = typer.Option(4, "--samples", "-n", min=1, help="Responses sampled per problem."),
    max_tokens: int = typer.Option(512, "--max-tokens", min=1, help="Tokens per response."),
    temperature: float = typer.Option(1.0, "--temperature", min=0.0, help="Sampling temperature."),
    top_p: float = typer.Option(0.95, "--top-p", min=0.0, max=1.0, help="Nucleus sampling mass."),
    drop_overlaps: bool = typer.Option(
        False, "--drop-overlaps", help="Leave out problems sharing a 13-gram with an evaluation set, not refuse."
    ),
    keep: int | None = typer.Option(None, "--keep", min=1, help="Verified traces kept per problem at most."),
    max_samples: int | None = typer.Option(
        None, "--max-samples", min=1, help="Sample in rounds of --samples until --keep are verified, up to this many."
    ),
    knob: list[str] = typer.Option(
        [], "--knob", "-k", help="A generated dataset's knob KEY=VALUE (repeatable), e.g. questions=max,min."
    ),
    json_output: bool = typer.Option(False, "--json", help="Print one JSON object on stdout."),
) -> None:
    """Sample the solver engine (K2_SOLVER__* settings; embedded by default) on training problems and keep the
    responses k2core.verify grades correct; a rerun resumes after the last finished problem."""
    from k2core.config import Settings
    from k2core.data import list_datasets, load_dataset
    from k2core.data.decontam import ContaminationError
    from k2core.training.traces import TraceJob, collect_traces

    if dataset not in list_datasets():
        known = ", ".join(list_datasets())
        raise typer.BadParameter(f"unknown dataset {dataset!r}; known: {known}", param_hint="--dataset")
    knobs = parse_knobs(knob)
    if knobs:
        try:
            load_dataset(dataset, 0, seed, knobs=knobs)  # checks the knobs before anything is sampled
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--knob") from exc
    try:
        job = TraceJob(
            dataset, out, limit, seed, samples, max_tokens, temperature, top_p, drop_overlaps, keep, max_samples, knobs
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--max-samples") from exc
    try:
        summary = collect_traces(job, Settings(), console=stderr)
    except ContaminationError as exc:
        raise typer.BadParameter(str(exc), param_hint="--dataset") from exc
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--out") from exc
    if json_output:
        print_json(summary)
    else:
        typer.echo(f"kept {summary['kept']} of {summary['samples']} responses on {summary['problems']} problems: "
                   f"{summary['traces']}")  # fmt: skip


def register(app: typer.Typer) -> None:
    app.command("traces")(traces)
