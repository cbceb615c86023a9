"""`k2think serve ROLE`: run one service (planner, solver, judge or gateway) until SIGTERM or Ctrl-C."""

from __future__ import annotations

import asyncio
from enum import StrEnum

import typer

from services import runtime
from services.commands._output import stderr
from services.settings import ServiceSettings


class ServiceRole(StrEnum):
    """The services `serve` can run."""

    planner = "planner"
    solver = "solver"
    judge = "judge"
    gateway = "gateway"


def register(app: typer.Typer) -> None:
    @app.command()
    def serve(role: ServiceRole = typer.Argument(..., help="Which service to run.")) -> None:
        """Run one service on its configured ports (K2_SERVER__* env vars); drains in-flight calls on SIGTERM."""
        from services.stack import build_service

        settings = ServiceSettings()
        runtime.configure_observability(role.value, settings)

        def ready(service: runtime.Service) -> None:
            listed = "  ".join(f"{name}={address}" for name, address in service.endpoints().items())
            stderr.print(f"k2think {role.value} serving  {listed}")

        asyncio.run(runtime.serve_until_signal(lambda: build_service(role.value, settings), ready))
