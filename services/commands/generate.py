"""`k2think generate`: write seeded generated problems (with ground truth) to a JSONL file."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.progress import track

from k2core.data import generator, write_jsonl
from k2core.data.generators import GENERATORS
from services.commands._output import print_json, stderr


def parse_knobs(pairs: list[str]) -> dict[str, str]:
    """``KEY=VALUE`` options as a dict; anything else is a bad parameter naming ``--knob``."""
    knobs = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise typer.BadParameter(f"expected KEY=VALUE, got {pair!r}", param_hint="--knob")
        knobs[key.strip()] = value.strip()
    return knobs


def generate(
    domain: str = typer.Argument(..., help=f"Generator: {', '.join(GENERATORS)} (or the gen:<name> form)."),
    count: int = typer.Option(100, "--count", "-n", min=1, help="How many problems."),
    seed: int = typer.Option(0, "--seed", help="Same seed, same problems."),
    out: Path = typer.Option(..., "--out", "-o", help="JSONL file to write (one problem per line)."),
    knob: list[str] = typer.Option([], "--knob", "-k", help="Difficulty knob KEY=VALUE (repeatable)."),
    json_output: bool = typer.Option(False, "--json", help="Print one JSON object on stdout."),
) -> None:
    """Write N seeded problems with known answers (gen:arith, gen:logic, gen:countdown, ...) to a JSONL file."""
    try:
        chosen = generator(domain)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="DOMAIN") from exc
    try:
        problems = chosen.iterate(count, seed, parse_knobs(knob))
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--knob") from exc
    name = f"gen:{chosen.name}"
    written = write_jsonl(track(problems, total=count, description=name, console=stderr), out)
    if json_output:
        print_json({"domain": name, "count": written, "seed": seed, "out": str(out)})
    else:
        typer.echo(f"wrote {written} {name} problems (seed {seed}) to {out}")


def register(app: typer.Typer) -> None:
    app.command("generate")(generate)
