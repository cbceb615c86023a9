"""`k2think`: the command line. Each module in ``services.commands`` registers its own commands."""

from __future__ import annotations

import importlib
import pkgutil

import typer

import services.commands
from k2core.config import Settings
from k2core.verify.sandbox import configure_sandbox

app = typer.Typer(
    name="k2think",
    help="k2think: plan, best-of-N and judged reasoning on real engines; training and evaluation.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _process_settings() -> None:
    """What the library keeps per process, set from this command's K2_ settings: the code sandbox's limits."""
    configure_sandbox(Settings().sandbox)


for _module in sorted(pkgutil.iter_modules(services.commands.__path__), key=lambda m: m.name):
    if _module.name.startswith("_"):
        continue
    importlib.import_module(f"services.commands.{_module.name}").register(app)


if __name__ == "__main__":
    app()
