"""`k2think verify`: grade one response against a ground truth with the domain's verifier."""

from __future__ import annotations

import sys

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from k2core.rewards import domain_of, score_details
from k2core.verify import DOMAINS, GroundTruthError, Score
from services.commands._output import print_json


def _render(domain: str, score: Score) -> None:
    verdict = "[bold green]correct[/]" if score.correct else "[bold red]incorrect[/]"
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_row("[dim]domain[/]", domain)
    table.add_row("[dim]verdict[/]", verdict)
    table.add_row("[dim]score[/]", f"{score.score:.3f}")
    table.add_row("[dim]extracted[/]", escape(score.extracted) if score.extracted is not None else "[dim]—[/]")
    table.add_row("[dim]reason[/]", escape(score.reason))
    Console().print(table)


def verify(
    domain: str = typer.Option(..., "--domain", "-d", help=f"One of {', '.join(DOMAINS)}, or a dataset name."),
    ground_truth: str = typer.Option(..., "--ground-truth", "-g", help="The reference answer (JSON for code)."),
    response: str = typer.Option(..., "--response", "-r", help="The model response; '-' reads it from stdin."),
    json_output: bool = typer.Option(False, "--json", help="Print one JSON object on stdout."),
) -> None:
    """Grade a response: prints score, correctness, the extracted answer and the reason."""
    try:
        resolved = domain_of(domain)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--domain") from exc
    text = sys.stdin.read() if response == "-" else response
    try:
        score = score_details(resolved, text, ground_truth)
    except GroundTruthError as exc:
        raise typer.BadParameter(str(exc), param_hint="--ground-truth") from exc
    if json_output:
        print_json(score.to_dict())
    else:
        _render(resolved, score)


def register(app: typer.Typer) -> None:
    app.command("verify")(verify)
